using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The dispatch part of an MoE layer: moves token rows to their experts and combines the results back in token order.
    /// The portable sorted dispatch, the fused CUDA dispatch and the expert-parallel dispatch (MoeLayers.Distributed)
    /// implement it; the layer's forward is the same for all three.
    /// </summary>
    internal interface IExpertDispatcher
    {
        /// <summary>Dispatches token rows x [T, d] to the experts <paramref name="routed"/> names, under <paramref name="rules"/>.</summary>
        DispatchOutput Dispatch(Tensor input, RoutedTokens routed, DispatchRules rules);

        /// <summary>
        /// Sums per-rank values (statistics' sums) over the ranks this dispatcher spreads a batch over: a collective under
        /// expert parallelism (every rank calls it, in the same order), the values themselves in one process.
        /// </summary>
        double[] SumOverRanks(double[] values) => values;
    }
}
