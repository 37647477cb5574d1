using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// A stable counting sort of the T·k (token, slot) pairs by expert, in three launches: per-block expert counts, one
    /// scan that turns them into offsets (and applies capacity), and a rank-and-scatter that gives every kept pair its
    /// row in the expert-contiguous order. Pair p = t·k + j; block b owns pairs [b·pairsPerBlock, (b+1)·pairsPerBlock).
    /// The result equals a stable sort by expert (ties keep pair order), with an expert's pairs beyond the capacity
    /// dropped: exactly <c>DispatchPlan</c> with <c>DropPolicy.ByPosition</c>.
    /// </summary>
    internal static class PermutationKernels
    {
        /// <summary>Counts pairs per (expert, block) and flags expert ids outside [0, E).</summary>
        /// <param name="expertIndices">Expert of each pair, int64 [P].</param>
        /// <param name="blockCounts">Out: int32 [E, numBlocks], expert-major.</param>
        /// <param name="status">Out: element 0 set to 1 when an expert id is out of range.</param>
        /// <param name="pairs">P = T·k.</param>
        /// <param name="numExperts">E.</param>
        /// <param name="pairsPerBlock">Pairs each block owns.</param>
        public static void CountExperts(
            ArrayView<long> expertIndices,
            ArrayView<int> blockCounts,
            ArrayView<int> status,
            int pairs,
            int numExperts,
            int pairsPerBlock)
        {
            var histogram = SharedMemory.Allocate<int>(KernelLimits.MaxExperts);
            for (var e = Group.IdxX; e < numExperts; e += Group.DimX) histogram[e] = 0;
            Group.Barrier();

            long first = (long)Grid.IdxX * pairsPerBlock;
            for (var i = Group.IdxX; i < pairsPerBlock; i += Group.DimX)
            {
                var p = first + i;
                if (p < pairs)
                {
                    var expert = expertIndices[p];
                    if (expert >= 0 && expert < numExperts) Atomic.Add(ref histogram[(int)expert], 1);
                    else status[0] = 1;
                }
            }

            Group.Barrier();
            for (var e = Group.IdxX; e < numExperts; e += Group.DimX)
                blockCounts[(long)e * Grid.DimX + Grid.IdxX] = histogram[e];
        }

        /// <summary>
        /// One block. Scans the expert-major block counts in place, so blockCounts[e, b] becomes the position of block b's
        /// first pair of expert e among all pairs sorted by expert; writes per-expert assigned and kept counts and the
        /// kept rows' offsets. Launch with numBlocks = 1.
        /// </summary>
        /// <param name="blockCounts">In: counts; out: exclusive prefix sums, int32 [E, countBlocks].</param>
        /// <param name="expertOffsets">Out: first row of each expert in the kept order, int32 [E].</param>
        /// <param name="summary">Out: int32 [2E + 1]: assigned per expert, kept per expert, then status.</param>
        /// <param name="status">The status the counting kernel wrote, copied into the summary.</param>
        /// <param name="numExperts">E.</param>
        /// <param name="countBlocks">Blocks of the counting launch.</param>
        /// <param name="capacity">Rows an expert keeps, or −1 for dropless.</param>
        public static void ScanOffsets(
            ArrayView<int> blockCounts,
            ArrayView<int> expertOffsets,
            ArrayView<int> summary,
            ArrayView<int> status,
            int numExperts,
            int countBlocks,
            int capacity)
        {
            var tile = SharedMemory.Allocate<int>(KernelLimits.MaxThreadsPerBlock);
            var carry = SharedMemory.Allocate<int>(1);
            var total = BlockScan.ExclusiveInPlace(blockCounts, (long)numExperts * countBlocks, tile, carry);

            for (var e = Group.IdxX; e < numExperts; e += Group.DimX)
            {
                var start = blockCounts[(long)e * countBlocks];
                var end = e + 1 < numExperts ? blockCounts[(long)(e + 1) * countBlocks] : total;
                var assigned = end - start;
                var kept = capacity >= 0 && assigned > capacity ? capacity : assigned;
                summary[e] = assigned;
                summary[numExperts + e] = kept;
                expertOffsets[e] = kept;
            }
            if (Group.IdxX == 0) summary[2 * numExperts] = status[0];
            Group.Barrier();
            BlockScan.ExclusiveInPlace(expertOffsets, numExperts, tile, carry);
        }

        /// <summary>
        /// Ranks each pair among its expert's pairs (stable: global rank = pairs of the same expert in earlier blocks,
        /// from the scan, plus those earlier in this block, counted in shared memory) and scatters the kept ones.
        /// </summary>
        /// <param name="expertIndices">Expert of each pair, int64 [P].</param>
        /// <param name="scannedCounts">blockCounts after <see cref="ScanOffsets"/>, int32 [E, numBlocks].</param>
        /// <param name="expertOffsets">From <see cref="ScanOffsets"/>, int32 [E].</param>
        /// <param name="rowOfPair">Out: row of each pair in the expert-contiguous order, or −1 when dropped, int32 [P].</param>
        /// <param name="pairOfRow">Out: pair of each kept row, int32 [≥ M].</param>
        /// <param name="assignmentOfRow">Out: t·E + e of each kept row, int64 [≥ M].</param>
        /// <param name="pairs">P.</param>
        /// <param name="numExperts">E.</param>
        /// <param name="topK">k (to recover the token of a pair).</param>
        /// <param name="pairsPerBlock">Pairs each block owns (same partition as the counts).</param>
        /// <param name="capacity">Rows an expert keeps, or −1 for dropless.</param>
        public static void RankAndScatter(
            ArrayView<long> expertIndices,
            ArrayView<int> scannedCounts,
            ArrayView<int> expertOffsets,
            ArrayView<int> rowOfPair,
            ArrayView<int> pairOfRow,
            ArrayView<long> assignmentOfRow,
            int pairs,
            int numExperts,
            int topK,
            int pairsPerBlock,
            int capacity)
        {
            var experts = SharedMemory.Allocate<int>(KernelLimits.MaxPairsPerBlock);
            long first = (long)Grid.IdxX * pairsPerBlock;
            for (var i = Group.IdxX; i < pairsPerBlock; i += Group.DimX)
            {
                var p = first + i;
                experts[i] = p < pairs ? (int)expertIndices[p] : -1;
            }
            Group.Barrier();

            for (var i = Group.IdxX; i < pairsPerBlock; i += Group.DimX)
            {
                var p = first + i;
                var expert = experts[i];
                if (p < pairs && expert >= 0 && expert < numExperts)
                {
                    var earlierInBlock = 0;
                    for (var q = 0; q < i; q++)
                    {
                        if (experts[q] == expert) earlierInBlock++;
                    }
                    var column = (long)expert * Grid.DimX;
                    var rank = scannedCounts[column + Grid.IdxX] - scannedCounts[column] + earlierInBlock;
                    if (capacity >= 0 && rank >= capacity)
                    {
                        rowOfPair[p] = -1;
                    }
                    else
                    {
                        var row = expertOffsets[expert] + rank;
                        rowOfPair[p] = row;
                        pairOfRow[row] = (int)p;
                        assignmentOfRow[row] = (p / topK) * numExperts + expert;
                    }
                }
                else if (p < pairs)
                {
                    rowOfPair[p] = -1;
                }
            }
        }

        /// <summary>
        /// Moves kept pairs from the compact expert-contiguous order to the padded one (expert e's rank-r pair at row
        /// e·paddedCapacity + r), for the single batched product over an [E, C, d] buffer. One thread per pair; padding
        /// rows keep the −1 pair and 0 assignment they were initialized with.
        /// </summary>
        /// <param name="expertIndices">Expert of each pair, int64 [P].</param>
        /// <param name="rowOfPair">Compact row of each pair or −1, int32 [P].</param>
        /// <param name="expertOffsets">First compact row of each expert, int32 [E].</param>
        /// <param name="paddedRowOfPair">Out: padded row of each pair or −1, int32 [P].</param>
        /// <param name="paddedPairOfRow">In/out: pair of each padded row (−1 = padding), int32 [E · paddedCapacity].</param>
        /// <param name="paddedAssignmentOfRow">In/out: t·E + e of each padded row (0 for padding), int64 [E · paddedCapacity].</param>
        /// <param name="pairs">P.</param>
        /// <param name="numExperts">E.</param>
        /// <param name="topK">k.</param>
        /// <param name="paddedCapacity">Rows per expert in the padded buffer (the largest kept count).</param>
        public static void PadLayout(
            ArrayView<long> expertIndices,
            ArrayView<int> rowOfPair,
            ArrayView<int> expertOffsets,
            ArrayView<int> paddedRowOfPair,
            ArrayView<int> paddedPairOfRow,
            ArrayView<long> paddedAssignmentOfRow,
            int pairs,
            int numExperts,
            int topK,
            int paddedCapacity)
        {
            for (long p = (long)Grid.IdxX * Group.DimX + Group.IdxX; p < pairs; p += (long)Grid.DimX * Group.DimX)
            {
                var row = rowOfPair[p];
                if (row < 0)
                {
                    paddedRowOfPair[p] = -1;
                    continue;
                }
                var expert = (int)expertIndices[p];
                var padded = expert * paddedCapacity + (row - expertOffsets[expert]);
                paddedRowOfPair[p] = padded;
                paddedPairOfRow[padded] = (int)p;
                paddedAssignmentOfRow[padded] = (p / topK) * numExperts + expert;
            }
        }
    }
}
