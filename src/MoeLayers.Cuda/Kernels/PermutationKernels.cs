using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// A stable counting sort of the T·k (token, slot) pairs by expert, in four launches: per-block expert counts (or the
    /// routing kernel's), a scan of each expert's block counts (one block per expert, capacity applied), a scan of the kept
    /// counts into expert offsets, and a rank-and-scatter that gives every kept pair its row in the expert-contiguous order. Pair p = t·k + j; block b owns pairs [b·pairsPerBlock, (b+1)·pairsPerBlock).
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
        /// One block per expert (grid-stride over experts): scans expert e's row of the expert-major block counts in place, so
        /// blockCounts[e, b] becomes the number of expert e's pairs in blocks before b, and writes the expert's assigned and
        /// kept (capacity applied) counts. The rows are independent, so all experts scan in parallel; within a row the scan
        /// is work-efficient (<see cref="BlockScan.ExclusiveInPlace"/>). <see cref="ScanExpertOffsets"/> follows.
        /// </summary>
        /// <param name="blockCounts">In: counts; out: per-expert exclusive prefix sums over blocks, int32 [E, countBlocks].</param>
        /// <param name="summary">Out: int32 [2E + 1]: assigned per expert, kept per expert (the status slot is written later).</param>
        /// <param name="numExperts">E.</param>
        /// <param name="countBlocks">Blocks of the counting launch.</param>
        /// <param name="capacity">Rows an expert keeps, or −1 for dropless.</param>
        public static void ScanExpertBlocks(
            ArrayView<int> blockCounts,
            ArrayView<int> summary,
            int numExperts,
            int countBlocks,
            int capacity)
        {
            var tile = SharedMemory.Allocate<int>(KernelLimits.MaxThreadsPerBlock);
            for (var expert = Grid.IdxX; expert < numExperts; expert += Grid.DimX)
            {
                var assigned = BlockScan.ExclusiveInPlace(blockCounts, (long)expert * countBlocks, countBlocks, tile);
                if (Group.IdxX == 0)
                {
                    summary[expert] = assigned;
                    summary[numExperts + expert] = capacity >= 0 && assigned > capacity ? capacity : assigned;
                }
            }
        }

        /// <summary>
        /// One block: the first kept row of each expert (the exclusive scan of the kept counts), and the counting kernel's
        /// status copied into the summary, which then holds everything the host reads back. Launch with numBlocks = 1.
        /// </summary>
        /// <param name="summary">In: assigned and kept counts; out: status in element 2E, int32 [2E + 1].</param>
        /// <param name="expertOffsets">Out: first row of each expert in the kept order, int32 [E].</param>
        /// <param name="status">The status the counting or routing kernel wrote.</param>
        /// <param name="numExperts">E.</param>
        public static void ScanExpertOffsets(
            ArrayView<int> summary,
            ArrayView<int> expertOffsets,
            ArrayView<int> status,
            int numExperts)
        {
            var tile = SharedMemory.Allocate<int>(KernelLimits.MaxThreadsPerBlock);
            for (var e = Group.IdxX; e < numExperts; e += Group.DimX) expertOffsets[e] = summary[numExperts + e];
            if (Group.IdxX == 0) summary[2 * numExperts] = status[0];
            Group.Barrier();
            BlockScan.ExclusiveInPlace(expertOffsets, 0, numExperts, tile);
        }

        /// <summary>
        /// Ranks each pair among its expert's pairs and scatters the kept ones. Stable: global rank = pairs of the same
        /// expert in earlier blocks (from <see cref="ScanExpertBlocks"/>) + pairs of it earlier in this block. A block
        /// walks its pairs in chunks of blockDim, one pair per thread; within a chunk, each thread compares its expert with
        /// the (at most <see cref="KernelLimits.RankSegment"/>) earlier pairs of its segment, segment-by-expert counts in
        /// shared memory are scanned across the segments, and a running per-expert count carries over to the next chunk.
        /// Work per pair: O(segment + E · segments / blockDim), independent of the pairs per block (no O(n²) term).
        /// </summary>
        /// <param name="expertIndices">Expert of each pair, int64 [P].</param>
        /// <param name="scannedCounts">blockCounts after <see cref="ScanExpertBlocks"/>, int32 [E, numBlocks].</param>
        /// <param name="expertOffsets">From <see cref="ScanExpertOffsets"/>, int32 [E].</param>
        /// <param name="rowOfPair">Out: row of each pair in the expert-contiguous order, or −1 when dropped, int32 [P].</param>
        /// <param name="pairOfRow">Out: pair of each kept row, int32 [≥ M].</param>
        /// <param name="assignmentOfRow">Out: t·E + e of each kept row, int64 [≥ M].</param>
        /// <param name="pairs">P.</param>
        /// <param name="numExperts">E.</param>
        /// <param name="topK">k (to recover the token of a pair).</param>
        /// <param name="pairsPerBlock">Pairs each block owns (same partition as the counts; numBlocks = grid size).</param>
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
            var chunk = SharedMemory.Allocate<int>(KernelLimits.MaxRankThreads);
            var segmentCounts = SharedMemory.Allocate<int>(KernelLimits.MaxRankSegments * KernelLimits.MaxExperts);
            var running = SharedMemory.Allocate<int>(KernelLimits.MaxExperts);
            var tid = Group.IdxX;
            var threads = Group.DimX;
            var segments = (threads + KernelLimits.RankSegment - 1) / KernelLimits.RankSegment;
            var segment = tid / KernelLimits.RankSegment;
            var segmentStart = segment * KernelLimits.RankSegment;
            var segmentEnd = segmentStart + KernelLimits.RankSegment < threads ? segmentStart + KernelLimits.RankSegment : threads;
            for (var e = tid; e < numExperts; e += threads) running[e] = 0;

            long first = (long)Grid.IdxX * pairsPerBlock;
            for (var chunkStart = 0; chunkStart < pairsPerBlock; chunkStart += threads)
            {
                var i = chunkStart + tid;
                var p = first + i;
                var owned = i < pairsPerBlock && p < pairs;
                var expert = owned ? (int)expertIndices[p] : -1;
                if (expert >= numExperts) expert = -1; // out of range: flagged by the counting kernel, never scattered
                chunk[tid] = expert;
                for (var s = tid; s < segments * numExperts; s += threads) segmentCounts[s] = 0;
                Group.Barrier();

                var earlier = 0;
                if (expert >= 0)
                {
                    var last = true;
                    for (var q = segmentStart; q < segmentEnd; q++)
                    {
                        if (chunk[q] != expert) continue;
                        if (q < tid) earlier++;
                        else if (q > tid) last = false;
                    }
                    // The segment's last pair of this expert knows the segment's count: one writer, no atomics.
                    if (last) segmentCounts[segment * numExperts + expert] = earlier + 1;
                }
                Group.Barrier();

                for (var e = tid; e < numExperts; e += threads)
                {
                    var before = running[e];
                    for (var s = 0; s < segments; s++)
                    {
                        var count = segmentCounts[s * numExperts + e];
                        segmentCounts[s * numExperts + e] = before;
                        before += count;
                    }
                    running[e] = before;
                }
                Group.Barrier();

                if (expert >= 0)
                {
                    var rank = scannedCounts[(long)expert * Grid.DimX + Grid.IdxX] + segmentCounts[segment * numExperts + expert] + earlier;
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
                else if (owned)
                {
                    rowOfPair[p] = -1;
                }
                // The next chunk overwrites chunk[] and segmentCounts[].
                Group.Barrier();
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
