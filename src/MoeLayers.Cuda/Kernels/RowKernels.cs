using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The row movers around the expert products, one block per output row with threads striding over the columns.
    /// Every output element is written by exactly one thread, and every sum runs in a fixed order, so results are
    /// bitwise reproducible (no atomics). Rows use the storage type of their codec; math is float32.
    /// </summary>
    internal static class RowKernels
    {
        /// <summary>
        /// rows[r, :] = source[pairOfRow[r] / k, :] for r &lt; numRows, or zeros where pairOfRow[r] &lt; 0 (padding rows of
        /// the padded layout). A pure copy, so one instantiation serves every type of the same size.
        /// </summary>
        /// <param name="source">Token rows [T, width].</param>
        /// <param name="pairOfRow">Pair of each row or −1, int32 [≥ numRows].</param>
        /// <param name="rows">Out: [numRows, width].</param>
        /// <param name="numRows">M.</param>
        /// <param name="width">Row width.</param>
        /// <param name="topK">k.</param>
        public static void GatherRows<TElement>(
            ArrayView<TElement> source,
            ArrayView<int> pairOfRow,
            ArrayView<TElement> rows,
            int numRows,
            int width,
            int topK)
            where TElement : unmanaged
        {
            for (long row = Grid.IdxX; row < numRows; row += Grid.DimX)
            {
                long pair = pairOfRow[row];
                var to = row * width;
                if (pair < 0)
                {
                    for (var c = Group.IdxX; c < width; c += Group.DimX) rows[to + c] = default;
                    continue;
                }
                var from = pair / topK * width;
                for (var c = Group.IdxX; c < width; c += Group.DimX) rows[to + c] = source[from + c];
            }
        }

        /// <summary>
        /// output[t, :] = Σⱼ w[t, j] · rows[rowOfPair[t·k + j], :] over kept pairs, j ascending; dropped pairs add nothing.
        /// With <paramref name="useWeights"/> = 0 every w is 1: the backward of <see cref="GatherRows{TElement}"/>.
        /// </summary>
        /// <param name="rows">Expert outputs in the expert-contiguous order [M, width].</param>
        /// <param name="weights">Combine weights, float32 [T, k] (ignored when useWeights = 0).</param>
        /// <param name="rowOfPair">Row of each pair or −1, int32 [T·k].</param>
        /// <param name="output">Out: [T, width].</param>
        /// <param name="tokens">T.</param>
        /// <param name="width">Row width.</param>
        /// <param name="topK">k.</param>
        /// <param name="useWeights">1 to scale by the weights, 0 for a plain sum.</param>
        public static void CombineRows<TElement, TCodec>(
            ArrayView<TElement> rows,
            ArrayView<float> weights,
            ArrayView<int> rowOfPair,
            ArrayView<TElement> output,
            int tokens,
            int width,
            int topK,
            int useWeights)
            where TElement : unmanaged
            where TCodec : struct, IElementCodec<TElement>
        {
            var codec = default(TCodec);
            for (long token = Grid.IdxX; token < tokens; token += Grid.DimX)
            {
                var firstPair = token * topK;
                for (var c = Group.IdxX; c < width; c += Group.DimX)
                {
                    var sum = 0.0f;
                    for (var j = 0; j < topK; j++)
                    {
                        long row = rowOfPair[firstPair + j];
                        if (row >= 0)
                        {
                            var value = codec.Load(rows[row * width + c]);
                            sum += useWeights != 0 ? weights[firstPair + j] * value : value;
                        }
                    }
                    output[token * width + c] = codec.Store(sum);
                }
            }
        }

        /// <summary>
        /// gradRows[r, :] = w[p] · gradOutput[p / k, :] with p = pairOfRow[r], zeros for padding rows (p &lt; 0): the
        /// combine's backward for the rows.
        /// </summary>
        /// <param name="gradOutput">Gradient of the combined output [T, width].</param>
        /// <param name="weights">Combine weights, float32 [T·k].</param>
        /// <param name="pairOfRow">Pair of each row, int32 [≥ numRows].</param>
        /// <param name="gradRows">Out: [numRows, width].</param>
        /// <param name="numRows">M.</param>
        /// <param name="width">Row width.</param>
        /// <param name="topK">k.</param>
        public static void ScatterScaledRows<TElement, TCodec>(
            ArrayView<TElement> gradOutput,
            ArrayView<float> weights,
            ArrayView<int> pairOfRow,
            ArrayView<TElement> gradRows,
            int numRows,
            int width,
            int topK)
            where TElement : unmanaged
            where TCodec : struct, IElementCodec<TElement>
        {
            var codec = default(TCodec);
            for (long row = Grid.IdxX; row < numRows; row += Grid.DimX)
            {
                long pair = pairOfRow[row];
                var to = row * width;
                if (pair < 0)
                {
                    for (var c = Group.IdxX; c < width; c += Group.DimX) gradRows[to + c] = default;
                    continue;
                }
                var weight = weights[pair];
                var from = pair / topK * width;
                for (var c = Group.IdxX; c < width; c += Group.DimX)
                    gradRows[to + c] = codec.Store(weight * codec.Load(gradOutput[from + c]));
            }
        }

        /// <summary>
        /// gradWeights[p] = ⟨gradOutput[p / k, :], rows[rowOfPair[p], :]⟩, or 0 for a dropped pair: the combine's backward
        /// for the weights. Per-thread strided partial sums, then a fixed-shape tree in shared memory (blockDim must
        /// be a power of two).
        /// </summary>
        /// <param name="gradOutput">Gradient of the combined output [T, width].</param>
        /// <param name="rows">Expert outputs [M, width].</param>
        /// <param name="rowOfPair">Row of each pair or −1, int32 [P].</param>
        /// <param name="gradWeights">Out: float32 [P].</param>
        /// <param name="pairs">P.</param>
        /// <param name="width">Row width.</param>
        /// <param name="topK">k.</param>
        public static void PairDot<TElement, TCodec>(
            ArrayView<TElement> gradOutput,
            ArrayView<TElement> rows,
            ArrayView<int> rowOfPair,
            ArrayView<float> gradWeights,
            int pairs,
            int width,
            int topK)
            where TElement : unmanaged
            where TCodec : struct, IElementCodec<TElement>
        {
            var codec = default(TCodec);
            var partials = SharedMemory.Allocate<float>(KernelLimits.MaxThreadsPerBlock);
            var tid = Group.IdxX;
            // Every thread runs the same number of iterations so that all of them reach each barrier.
            for (long start = 0; start < pairs; start += Grid.DimX)
            {
                var pair = start + Grid.IdxX;
                long row = pair < pairs ? rowOfPair[pair] : -1;
                var partial = 0.0f;
                if (row >= 0)
                {
                    var from = pair / topK * width;
                    var at = row * width;
                    for (var c = tid; c < width; c += Group.DimX)
                        partial += codec.Load(gradOutput[from + c]) * codec.Load(rows[at + c]);
                }
                partials[tid] = partial;
                Group.Barrier();
                for (var half = Group.DimX / 2; half > 0; half >>= 1)
                {
                    if (tid < half) partials[tid] += partials[tid + half];
                    Group.Barrier();
                }
                if (tid == 0 && pair < pairs) gradWeights[pair] = partials[0];
                Group.Barrier();
            }
        }
    }
}
