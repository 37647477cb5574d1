using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Result of dispatching T tokens: y_t = Σⱼ w_{t,j}·Expert_{e(t,j)}(x_t) over kept pairs [T, out]; the (token, slot)
    /// pairs routed to each expert before capacity (padding excluded) and kept after it; capacity C (null: dropless); the
    /// real tokens of the whole batch and the ranks it spans. The counts describe the whole batch being balanced: this
    /// process's, or every rank's under expert parallelism, so losses and statistics see what one process would.
    /// </summary>
    internal sealed record DispatchOutput(Tensor Output, long[] AssignedPerExpert, long[] KeptPerExpert, long? Capacity, long BatchTokens,
        int Ranks = 1);
}
