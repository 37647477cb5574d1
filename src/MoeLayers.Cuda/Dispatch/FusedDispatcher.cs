using MoeLayers.Dispatch;
using MoeLayers.Experts;
using MoeLayers.Routing;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.Dispatch
{
    /// <summary>
    /// The fused dispatch: the permutation kernels sort the (token, slot) pairs by expert (reusing the routing kernel's
    /// counts when it made the routing), a gather kernel builds the expert-contiguous rows, the experts run their grouped
    /// products on those rows (TorchSharp matmuls, on the same stream), and a combine kernel sums the k weighted outputs
    /// of each token in a fixed order. Same function and same statistics as the core's SortedDispatcher.
    /// </summary>
    internal sealed class FusedDispatcher : IExpertDispatcher
    {
        private static readonly IExpertDispatcher EmptyBatch = new SortedDispatcher(DispatchStrategy.Grouped);
        private readonly FusedKernels _kernels;

        public FusedDispatcher(FusedKernels kernels)
        {
            _kernels = kernels;
        }

        public DispatchOutput Dispatch(Tensor input, RoutingResult routing, IExpertBlocks experts, long? capacity, DropPolicy dropPolicy)
        {
            if (routing.TokenCount == 0) return EmptyBatch.Dispatch(input, routing, experts, capacity, dropPolicy); // nothing to launch
            var topK = routing.TopK;
            // Keeping the C heaviest pairs is a sort by weight: let the core plan it, then move rows with the kernels.
            var permutation = capacity.HasValue && dropPolicy == DropPolicy.ByWeight
                ? PairPermutation.FromPlan(DispatchPlan.Build(routing.ExpertIndices, routing.CombineWeights, experts.NumExperts, capacity, dropPolicy))
                : _kernels.Permute(routing.ExpertIndices, experts.NumExperts, capacity, RoutingCounts.Find(routing.ExpertIndices));
            var rows = GatherRowsFunction.apply(input, permutation.PairOfRow, permutation.RowOfPair, _kernels, topK);
            var outputs = experts.ForwardSorted(rows, permutation.KeptPerExpert, permutation.AssignmentOfRow);
            var weights = routing.CombineWeights.to(ScalarType.Float32);
            var output = CombineRowsFunction.apply(outputs, weights, permutation.RowOfPair, permutation.PairOfRow, _kernels, topK);
            return new DispatchOutput(output, permutation.AssignedPerExpert, permutation.KeptPerExpert, capacity);
        }
    }
}
