using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Result of dispatching T tokens through the experts. The counts describe the whole batch being balanced: this
    /// process's tokens, or every rank's under expert parallelism, where the auxiliary losses and statistics must see
    /// what one process would see on all ranks' tokens.
    /// </summary>
    /// <param name="Output">y_t = Σⱼ w_{t,j}·Expert_{e(t,j)}(x_t) over kept pairs, [T, out].</param>
    /// <param name="AssignedPerExpert">(token, slot) pairs routed to each expert, before capacity (padding excluded).</param>
    /// <param name="KeptPerExpert">Pairs each expert processed, after capacity.</param>
    /// <param name="Capacity">Capacity C, or null when dropless.</param>
    /// <param name="BatchTokens">Real tokens of the whole batch (all ranks).</param>
    /// <param name="Ranks">Ranks the batch is spread over (1 in one process).</param>
    internal sealed record DispatchOutput(Tensor Output, long[] AssignedPerExpert, long[] KeptPerExpert, long? Capacity, long BatchTokens,
        int Ranks = 1);
}
