using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The row movers around the expert products. Several rows per block: a row belongs to a group of
    /// <c>rowThreads</c> consecutive threads (a power of two, at most a warp), the block's groups take consecutive rows and
    /// the grid strides over the rest; the threads of a group stride over the row's packets. A packet is one element, or
    /// 16 bytes of elements when the host found every row tensor's byte width and address a multiple of 16 (one
    /// ld/st.global.v4 per packet). Every output element is written by exactly one thread and every sum runs in a fixed
    /// order, so results are bitwise reproducible (no atomics). Rows are stored as float32, bfloat16 or float16; math is float32.
    /// Widths are in packets.
    /// </summary>
    internal static class RowKernels
    {
        /// <summary>
        /// rows[r, :] = source[pairOfRow[r] / k, :] for r &lt; numRows, or zeros where pairOfRow[r] &lt; 0 (padding rows of
        /// the padded layout). A pure copy, so one instantiation serves every type of the same packet size.
        /// </summary>
        /// <param name="source">Token rows [T, width].</param>
        /// <param name="pairOfRow">Pair of each row or −1, int32 [≥ numRows].</param>
        /// <param name="rows">Out: [numRows, width].</param>
        /// <param name="numRows">M.</param>
        /// <param name="width">Row width in packets.</param>
        /// <param name="topK">k.</param>
        /// <param name="rowThreads">Threads per row, a power of two dividing the block size.</param>
        public static void GatherRows<TPacket>(
            ArrayView<TPacket> source,
            ArrayView<int> pairOfRow,
            ArrayView<TPacket> rows,
            int numRows,
            int width,
            int topK,
            int rowThreads)
            where TPacket : unmanaged
        {
            var rowsPerBlock = Group.DimX / rowThreads;
            var lane = Group.IdxX & (rowThreads - 1);
            for (long row = (long)Grid.IdxX * rowsPerBlock + Group.IdxX / rowThreads; row < numRows; row += (long)Grid.DimX * rowsPerBlock)
            {
                long pair = pairOfRow[row];
                var to = row * width;
                if (pair < 0)
                {
                    for (var c = lane; c < width; c += rowThreads) rows[to + c] = default;
                    continue;
                }
                var from = pair / topK * width;
                for (var c = lane; c < width; c += rowThreads) rows[to + c] = source[from + c];
            }
        }

        /// <summary>
        /// output[t, :] = Σⱼ w[t, j] · rows[rowOfPair[t·k + j], :] over kept pairs, j ascending; dropped pairs add nothing.
        /// With <paramref name="useWeights"/> = 0 every w is 1: the backward of <see cref="GatherRows{TPacket}"/>.
        /// </summary>
        /// <param name="rows">Expert outputs in the expert-contiguous order [M, width].</param>
        /// <param name="weights">Combine weights, float32 [T, k] (ignored when useWeights = 0).</param>
        /// <param name="rowOfPair">Row of each pair or −1, int32 [T·k].</param>
        /// <param name="output">Out: [T, width].</param>
        /// <param name="tokens">T.</param>
        /// <param name="width">Row width in packets.</param>
        /// <param name="topK">k.</param>
        /// <param name="useWeights">1 to scale by the weights, 0 for a plain sum.</param>
        /// <param name="rowThreads">Threads per row.</param>
        public static void CombineRows<TPacket, TSum, TCodec>(
            ArrayView<TPacket> rows,
            ArrayView<float> weights,
            ArrayView<int> rowOfPair,
            ArrayView<TPacket> output,
            int tokens,
            int width,
            int topK,
            int useWeights,
            int rowThreads)
            where TPacket : unmanaged
            where TSum : unmanaged
            where TCodec : struct, IRowCodec<TPacket, TSum>
        {
            var codec = default(TCodec);
            var rowsPerBlock = Group.DimX / rowThreads;
            var lane = Group.IdxX & (rowThreads - 1);
            for (long token = (long)Grid.IdxX * rowsPerBlock + Group.IdxX / rowThreads; token < tokens; token += (long)Grid.DimX * rowsPerBlock)
            {
                var firstPair = token * topK;
                for (var c = lane; c < width; c += rowThreads)
                {
                    var sum = default(TSum);
                    for (var j = 0; j < topK; j++)
                    {
                        long row = rowOfPair[firstPair + j];
                        if (row >= 0) sum = codec.MulAdd(sum, useWeights != 0 ? weights[firstPair + j] : 1.0f, rows[row * width + c]);
                    }
                    output[token * width + c] = codec.Round(sum);
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
        /// <param name="width">Row width in packets.</param>
        /// <param name="topK">k.</param>
        /// <param name="rowThreads">Threads per row.</param>
        public static void ScatterScaledRows<TPacket, TSum, TCodec>(
            ArrayView<TPacket> gradOutput,
            ArrayView<float> weights,
            ArrayView<int> pairOfRow,
            ArrayView<TPacket> gradRows,
            int numRows,
            int width,
            int topK,
            int rowThreads)
            where TPacket : unmanaged
            where TSum : unmanaged
            where TCodec : struct, IRowCodec<TPacket, TSum>
        {
            var codec = default(TCodec);
            var rowsPerBlock = Group.DimX / rowThreads;
            var lane = Group.IdxX & (rowThreads - 1);
            for (long row = (long)Grid.IdxX * rowsPerBlock + Group.IdxX / rowThreads; row < numRows; row += (long)Grid.DimX * rowsPerBlock)
            {
                long pair = pairOfRow[row];
                var to = row * width;
                if (pair < 0)
                {
                    for (var c = lane; c < width; c += rowThreads) gradRows[to + c] = default;
                    continue;
                }
                var weight = weights[pair];
                var from = pair / topK * width;
                for (var c = lane; c < width; c += rowThreads) gradRows[to + c] = codec.Scale(weight, gradOutput[from + c]);
            }
        }

        /// <summary>
        /// gradWeights[p] = ⟨gradOutput[p / k, :], rows[rowOfPair[p], :]⟩, or 0 for a dropped pair: the combine's backward
        /// for the weights. Per-thread strided partial sums, then a fixed-shape tree over the row's threads in shared memory.
        /// </summary>
        /// <param name="gradOutput">Gradient of the combined output [T, width].</param>
        /// <param name="rows">Expert outputs [M, width].</param>
        /// <param name="rowOfPair">Row of each pair or −1, int32 [P].</param>
        /// <param name="gradWeights">Out: float32 [P].</param>
        /// <param name="pairs">P.</param>
        /// <param name="width">Row width in packets.</param>
        /// <param name="topK">k.</param>
        /// <param name="rowThreads">Threads per pair.</param>
        public static void PairDot<TPacket, TSum, TCodec>(
            ArrayView<TPacket> gradOutput,
            ArrayView<TPacket> rows,
            ArrayView<int> rowOfPair,
            ArrayView<float> gradWeights,
            int pairs,
            int width,
            int topK,
            int rowThreads)
            where TPacket : unmanaged
            where TSum : unmanaged
            where TCodec : struct, IRowCodec<TPacket, TSum>
        {
            var codec = default(TCodec);
            var partials = SharedMemory.Allocate<float>(KernelLimits.MaxThreadsPerBlock);
            var tid = Group.IdxX;
            var rowsPerBlock = Group.DimX / rowThreads;
            var lane = tid & (rowThreads - 1);
            // The loop bound depends on the block only, so every thread reaches each barrier.
            for (long start = (long)Grid.IdxX * rowsPerBlock; start < pairs; start += (long)Grid.DimX * rowsPerBlock)
            {
                var pair = start + tid / rowThreads;
                long row = pair < pairs ? rowOfPair[pair] : -1;
                var partial = 0.0f;
                if (row >= 0)
                {
                    var from = pair / topK * width;
                    var at = row * width;
                    for (var c = lane; c < width; c += rowThreads) partial += codec.Dot(gradOutput[from + c], rows[at + c]);
                }
                partials[tid] = partial;
                Group.Barrier();
                for (var half = rowThreads / 2; half > 0; half >>= 1)
                {
                    if (lane < half) partials[tid] += partials[tid + half];
                    Group.Barrier();
                }
                if (lane == 0 && pair < pairs) gradWeights[pair] = partials[tid];
                Group.Barrier();
            }
        }
    }
}
