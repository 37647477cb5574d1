using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Sort-based dispatch: stable-sort the T·k pairs by expert, gather rows, run the experts either per contiguous block
    /// (<see cref="DispatchStrategy.Grouped"/>) or as one batched product over a padded [E, C, d] buffer
    /// (<see cref="DispatchStrategy.Padded"/>), then combine deterministically: outputs are copied back to their (token, slot)
    /// position (unique indices, no atomics) and the [T, k, out] tensor is summed with the weights. Where the weights apply
    /// (outputs, or inputs) is the plan's (<see cref="DispatchPlan.GatherRows"/>, <see cref="DispatchPlan.Combine"/>).
    /// </summary>
    internal sealed class SortedDispatcher : IExpertDispatcher
    {
        /// <summary>
        /// Auto uses the padded product when padding adds at most this fraction of extra rows… Measured on 2 CPU cores at
        /// T=512, d=128, h=512, E=8, k=2: with exactly balanced blocks the batched product saves about as much as its
        /// buffer gather and scatter cost, and at 16% padding it is 9% slower than the grouped products.
        /// </summary>
        internal const double MaxPaddingOverhead = 0.10;

        /// <summary>…and experts average fewer rows than this (beyond it per-op overhead no longer matters).</summary>
        internal const long MaxRowsPerExpertForPadding = 1024;

        private readonly DispatchStrategy _strategy;
        private readonly IGroupedMatmul _matmul;

        /// <summary>Creates the dispatcher.</summary>
        /// <param name="strategy">Grouped, padded, or chosen by shape.</param>
        /// <param name="matmul">
        /// Runs the grouped strategy's projections: by default <see cref="LibraryGroupedMatmul.Default"/>, one library call
        /// per projection where a runner serves the rows' device (MKL's batched GEMM on the CPU, cuBLAS's grouped GEMM on
        /// CUDA once MoeLayers.Cuda is loaded; MOELAYERS_CPU_GROUPED_GEMM=0 / MOELAYERS_CUDA_GROUPED_GEMM=0 turn them off)
        /// and the per-expert products elsewhere.
        /// </param>
        public SortedDispatcher(DispatchStrategy strategy = DispatchStrategy.Auto, IGroupedMatmul? matmul = null)
        {
            _strategy = strategy;
            _matmul = matmul ?? LibraryGroupedMatmul.Default;
        }

        public DispatchOutput Dispatch(Tensor input, RoutedTokens routed, DispatchRules rules)
        {
            var (routing, experts) = (routed.Routing, routed.Experts);
            var plan = DispatchPlan.Build(routing.ExpertIndices, routing.CombineWeights, experts.NumExperts, rules, routing.SelectedPairs);
            var weights = routing.CombineWeights.to(input.dtype);
            // With no rows at all the padded buffer would be empty; the grouped path handles it and keeps the graph.
            var output = plan.KeptCount > 0 && UsePadded(plan, input) ? RunPadded(plan, input, weights, experts) : RunGrouped(plan, input, weights, experts, _matmul);
            return new DispatchOutput(output, plan.AssignedPerExpert, plan.KeptPerExpert, plan.Capacity, rules.Mask?.RealCount ?? plan.Tokens);
        }

        /// <summary>
        /// Whether this forward runs the padded product. Auto never picks it where the grouped matmul batches the
        /// projections (<see cref="IGroupedMatmul.Batches"/>, MKL's batched GEMM on the CPU): measured on 2 idle cores, the batched grouped products beat the padded buffer at all three
        /// benchmark shapes (1.80 against 1.93, 1.17 against 1.21 and 1.19 against 1.27 times the floor). Auto always
        /// picks it where the grouped matmul would pad the groups itself (<see cref="IGroupedMatmul.PadsGroups"/>: bfloat16
        /// and float16 on the CPU): the same batched product, without copying the sorted rows into a padded layout and
        /// back (bfloat16 training step at the large shape: 1.26 against 1.35 times its floor, 2 loaded cores).
        /// </summary>
        internal bool UsePadded(DispatchPlan plan, Tensor input)
        {
            if (_strategy != DispatchStrategy.Auto) return UsePadded(_strategy, plan.KeptPerExpert);
            if (_matmul.PadsGroups(input.device, input.dtype, plan.KeptPerExpert)) return true;
            return !_matmul.Batches(input.device, input.dtype, plan.KeptPerExpert) && UsePadded(_strategy, plan.KeptPerExpert);
        }

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

        /// <summary>Gather kept rows in expert order, one grouped product per projection, then put rows back per pair.</summary>
        private static Tensor RunGrouped(DispatchPlan plan, Tensor input, Tensor weights, IExpertBank experts, IGroupedMatmul matmul)
        {
            var rows = plan.GatherRows(input, weights);
            return plan.Combine(experts.ForwardSorted(rows, plan.KeptPerExpert, plan.AssignmentOfKept, matmul), weights);
        }

        /// <summary>
        /// One batched product over a [E, C, d] buffer (C = largest block). Padding rows read an arbitrary real token and
        /// their outputs are never gathered, so they add nothing to any gradient; pairs that are not run are masked in the combine.
        /// </summary>
        private static Tensor RunPadded(DispatchPlan plan, Tensor input, Tensor weights, IExpertBank experts)
        {
            var capacity = PaddedCapacity(plan);
            var (buffer, slotOfPair, assignmentOfSlot) = plan.GatherPadded(input, weights, capacity);
            var output = experts.ForwardPadded(buffer, assignmentOfSlot).reshape(plan.NumExperts * capacity, experts.OutputDim);
            return plan.CombinePadded(output, slotOfPair, weights);
        }
    }
}
