using System.Linq;
using MoeLayers.Experts;
using MoeLayers.Routing;
using static TorchSharp.torch;

namespace MoeLayers.Dispatch
{
    /// <summary>
    /// Sort-based dispatch: stable-sort the T·k pairs by expert, gather rows, run the experts either per contiguous block
    /// (<see cref="DispatchStrategy.Grouped"/>) or as one batched product over a padded [E, C, d] buffer
    /// (<see cref="DispatchStrategy.Padded"/>), then combine deterministically: outputs are copied back to their (token, slot)
    /// position (unique indices, no atomics) and the [T, k, out] tensor is summed with the weights.
    /// </summary>
    internal sealed class SortedDispatcher : IExpertDispatcher
    {
        /// <summary>Auto uses the padded product when padding adds at most this fraction of extra rows…</summary>
        internal const double MaxPaddingOverhead = 0.25;

        /// <summary>…and experts average fewer rows than this (beyond it per-op overhead no longer matters).</summary>
        internal const long MaxRowsPerExpertForPadding = 1024;

        private readonly DispatchStrategy _strategy;

        public SortedDispatcher(DispatchStrategy strategy = DispatchStrategy.Auto)
        {
            _strategy = strategy;
        }

        public DispatchOutput Dispatch(Tensor input, RoutingResult routing, IExpertBlocks experts, long? capacity, DropPolicy dropPolicy)
        {
            var plan = DispatchPlan.Build(routing.ExpertIndices, routing.CombineWeights, experts.NumExperts, capacity, dropPolicy);
            var rows = input.index_select(0, plan.TokenOfKept);
            var sortedOutput = UsePadded(plan)
                ? RunPadded(plan, rows, experts)
                : experts.ForwardSorted(rows, plan.KeptPerExpert, plan.AssignmentOfKept);
            var output = Combine(plan, sortedOutput, routing.CombineWeights.to(input.dtype));
            return new DispatchOutput(output, plan.AssignedPerExpert, plan.KeptPerExpert, plan.Capacity);
        }

        internal bool UsePadded(DispatchPlan plan) => UsePadded(_strategy, plan.KeptPerExpert);

        /// <summary>Whether <paramref name="strategy"/> runs the padded product for these per-expert row counts (Auto decides by shape).</summary>
        /// <param name="strategy">The dispatch strategy.</param>
        /// <param name="keptPerExpert">Rows each expert processes.</param>
        internal static bool UsePadded(DispatchStrategy strategy, long[] keptPerExpert)
        {
            if (strategy == DispatchStrategy.Padded) return true;
            var experts = keptPerExpert.Length;
            if (strategy != DispatchStrategy.Auto || experts == 1) return false;
            var kept = keptPerExpert.Sum();
            if (kept == 0) return false;
            var paddedRows = experts * System.Math.Max(1, keptPerExpert.Max());
            return paddedRows <= (1 + MaxPaddingOverhead) * kept && kept / experts < MaxRowsPerExpertForPadding;
        }

        private static long PaddedCapacity(DispatchPlan plan) => System.Math.Max(1, plan.KeptPerExpert.Max());

        private static Tensor RunPadded(DispatchPlan plan, Tensor rows, IExpertBlocks experts)
        {
            var capacity = PaddedCapacity(plan);
            var slots = plan.ExpertOfKept * capacity + plan.RankOfKept();
            var bufferRows = plan.NumExperts * capacity;
            var buffer = zeros(new[] { bufferRows, rows.shape[1] }, rows.dtype, rows.device).index_copy(0, slots, rows);
            var assignments = zeros(bufferRows, ScalarType.Int64, rows.device).index_copy(0, slots, plan.AssignmentOfKept);
            var output = experts.ForwardPadded(buffer.view(plan.NumExperts, capacity, rows.shape[1]), assignments);
            return output.reshape(bufferRows, experts.OutputDim).index_select(0, slots);
        }

        /// <summary>y_t = Σⱼ w_{t,j}·out_{t,j}; dropped pairs have a zero output row.</summary>
        internal static Tensor Combine(DispatchPlan plan, Tensor sortedOutput, Tensor weights)
        {
            var width = sortedOutput.shape[1];
            var pairs = plan.Tokens * plan.TopK;
            var perPair = zeros(new[] { pairs, width }, sortedOutput.dtype, sortedOutput.device).index_copy(0, plan.Order, sortedOutput);
            if (plan.TopK == 1) return perPair * weights;
            return perPair.view(plan.Tokens, plan.TopK, width).mul(weights.unsqueeze(-1)).sum(1);
        }
    }
}
