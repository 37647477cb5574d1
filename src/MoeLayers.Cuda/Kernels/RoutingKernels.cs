using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Routing in one pass: one thread per token computes softmax over its E logits, picks the k largest (ties go to
    /// the lower expert index), writes weights and probabilities, and the block counts how many of its (token, slot)
    /// pairs each expert received, which the permutation then scans instead of counting again.
    /// </summary>
    internal static class RoutingKernels
    {
        /// <summary>
        /// Block b handles tokens [b·blockDim, (b+1)·blockDim), i.e. pairs [b·blockDim·k, ...): the pair partition the
        /// permutation kernels use. Expects blockDim·k ≤ <see cref="KernelLimits.MaxPairsPerBlock"/> and
        /// E ≤ <see cref="KernelLimits.MaxExperts"/>.
        /// </summary>
        /// <param name="logits">Router logits, float32 [T, E].</param>
        /// <param name="indices">Out: chosen experts, int64 [T, k], largest first.</param>
        /// <param name="weights">Out: combine weights, float32 [T, k].</param>
        /// <param name="probabilities">Out: softmax over all experts, float32 [T, E].</param>
        /// <param name="blockCounts">Out: pairs per (expert, block), int32 [E, numBlocks] (expert-major).</param>
        /// <param name="status">Out: element 0 set to 1 when a logit is NaN (the selection is then meaningless).</param>
        /// <param name="tokens">T.</param>
        /// <param name="numExperts">E.</param>
        /// <param name="topK">k.</param>
        /// <param name="selection">A <see cref="TopKSelection"/> value.</param>
        public static void SoftmaxTopK(
            ArrayView<float> logits,
            ArrayView<long> indices,
            ArrayView<float> weights,
            ArrayView<float> probabilities,
            ArrayView<int> blockCounts,
            ArrayView<int> status,
            int tokens,
            int numExperts,
            int topK,
            int selection)
        {
            var histogram = SharedMemory.Allocate<int>(KernelLimits.MaxExperts);
            for (var e = Group.IdxX; e < numExperts; e += Group.DimX) histogram[e] = 0;
            Group.Barrier();

            long token = (long)Grid.IdxX * Group.DimX + Group.IdxX;
            if (token < tokens)
            {
                var row = token * numExperts;
                var max = float.NegativeInfinity;
                for (var e = 0; e < numExperts; e++)
                {
                    var z = logits[row + e];
                    if (z > max) max = z;
                    if (float.IsNaN(z)) status[0] = 1; // NaN: the dispatcher refuses this routing
                }
                var sum = 0.0f;
                for (var e = 0; e < numExperts; e++) sum += DeviceMath.ExpNonPositive(logits[row + e] - max);
                for (var e = 0; e < numExperts; e++) probabilities[row + e] = DeviceMath.ExpNonPositive(logits[row + e] - max) / sum;

                // k passes: each takes the largest logit strictly below the previous pick in (value desc, index asc) order.
                var pairRow = token * topK;
                var previousValue = float.PositiveInfinity;
                var previousIndex = -1;
                var firstValue = 0.0f;
                var total = 0.0f;
                for (var j = 0; j < topK; j++)
                {
                    var best = -1;
                    var bestValue = float.NegativeInfinity;
                    for (var e = 0; e < numExperts; e++)
                    {
                        var z = logits[row + e];
                        var belowPrevious = z < previousValue || (z == previousValue && e > previousIndex);
                        if (belowPrevious && (best < 0 || z > bestValue))
                        {
                            best = e;
                            bestValue = z;
                        }
                    }
                    if (best < 0)
                    {
                        // Only reachable with NaN logits (already flagged): keep the output well-formed.
                        best = j;
                        bestValue = logits[row + j];
                    }
                    if (j == 0) firstValue = bestValue;
                    indices[pairRow + j] = best;
                    Atomic.Add(ref histogram[best], 1);

                    var weight = selection == (int)TopKSelection.TopKThenSoftmax
                        ? DeviceMath.ExpNonPositive(bestValue - firstValue)
                        : probabilities[row + best];
                    weights[pairRow + j] = weight;
                    total += weight;
                    previousValue = bestValue;
                    previousIndex = best;
                }
                if (selection != (int)TopKSelection.SoftmaxThenTopK)
                {
                    for (var j = 0; j < topK; j++) weights[pairRow + j] = weights[pairRow + j] / total;
                }
            }

            Group.Barrier();
            for (var e = Group.IdxX; e < numExperts; e += Group.DimX)
                blockCounts[(long)e * Grid.DimX + Grid.IdxX] = histogram[e];
        }
    }
}
