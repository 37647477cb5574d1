using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The fused dispatch: the permutation kernels sort the (token, slot) pairs by expert (reusing the routing kernel's
    /// counts when it made the routing), a gather kernel builds the expert-contiguous rows (or the zero-padded [E, C, d]
    /// buffer), the experts run each projection as one grouped GEMM on those rows (<see cref="IGroupedMatmul"/>: cuBLAS's
    /// grouped GEMM where available, else one product per expert) or one batched product on the buffer, all on the same
    /// stream, and a combine kernel sums the k weighted outputs of each token in a fixed order.
    /// Same function, same statistics and the same Auto rule as the core's SortedDispatcher.
    /// </summary>
    internal sealed class FusedDispatcher : IExpertDispatcher
    {
        private static readonly IExpertDispatcher EmptyBatch = new SortedDispatcher(DispatchStrategy.Grouped);
        private readonly FusedKernels _kernels;
        private readonly DispatchStrategy _strategy;
        private readonly IGroupedMatmul _matmul;

        /// <summary>Creates the dispatcher.</summary>
        /// <param name="kernels">The kernels and their launcher.</param>
        /// <param name="strategy">Grouped per-expert products, one padded batched product, or Auto: padded for small,
        /// even loads by the core's rule (<see cref="SortedDispatcher.UsePadded(DispatchStrategy, long[])"/>).</param>
        /// <param name="matmul">Runs the grouped products; by default <see cref="LibraryGroupedMatmul.Default"/>.</param>
        public FusedDispatcher(FusedKernels kernels, DispatchStrategy strategy = DispatchStrategy.Auto, IGroupedMatmul? matmul = null)
        {
            if (strategy == DispatchStrategy.Reference)
                throw new System.ArgumentException("The fused dispatch does not run the reference loop.", nameof(strategy));
            _kernels = kernels;
            _strategy = strategy;
            _matmul = matmul ?? LibraryGroupedMatmul.Default;
        }

        public DispatchOutput Dispatch(Tensor input, RoutedTokens routed, DispatchRules rules)
        {
            var (routing, experts) = (routed.Routing, routed.Experts);
            if (routing.TokenCount == 0) return EmptyBatch.Dispatch(input, routed, rules); // nothing to launch
            var topK = routing.TopK;
            var capacity = rules.Capacity;
            // The kernels keep pairs in token order and know no padding. Keeping the C heaviest pairs, or first choices
            // first, is a sort, and padding changes which pairs exist: let the core plan those, then move rows with the kernels.
            var permutation = NeedsHostPlan(rules) || routing.SelectedPairs is not null
                ? PairPermutation.FromPlan(DispatchPlan.Build(routing.ExpertIndices, routing.CombineWeights, experts.NumExperts, rules, routing.SelectedPairs))
                : _kernels.Permute(routing.ExpertIndices, experts.NumExperts, capacity, routed.DeviceCounts as ExpertCounts);
            Tensor outputs;
            var layout = permutation;
            if (SortedDispatcher.UsePadded(_strategy, permutation.KeptPerExpert))
            {
                long paddedCapacity;
                (layout, paddedCapacity) = _kernels.PadLayout(permutation, routing.ExpertIndices);
                var rows = GatherRowsFunction.apply(input, layout.PairOfRow, layout.RowOfPair, _kernels, topK);
                outputs = experts.ForwardPadded(rows.view(experts.NumExperts, paddedCapacity, input.shape[1]), layout.AssignmentOfRow)
                    .reshape(experts.NumExperts * paddedCapacity, experts.OutputDim);
            }
            else
            {
                var rows = GatherRowsFunction.apply(input, layout.PairOfRow, layout.RowOfPair, _kernels, topK);
                outputs = experts.ForwardSorted(rows, permutation.KeptPerExpert, permutation.AssignmentOfRow, _matmul);
            }
            var weights = routing.CombineWeights.to(ScalarType.Float32);
            var output = CombineRowsFunction.apply(outputs, weights, layout.RowOfPair, layout.PairOfRow, _kernels, topK);
            return new DispatchOutput(output, permutation.AssignedPerExpert, permutation.KeptPerExpert, capacity, rules.Mask?.RealCount ?? routing.TokenCount);
        }

        private static bool NeedsHostPlan(DispatchRules rules) =>
            rules.Mask is { HasPadding: true } || (rules.Capacity.HasValue && rules.DropPolicy != DropPolicy.ByPosition);
    }
}
