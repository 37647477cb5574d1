using System;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Grid and block sizes for every kernel, and the limits a call must respect (checked here, before any launch, so a
    /// problem too large for the kernels' shared arrays fails with a message instead of corrupting memory).
    /// </summary>
    internal sealed class LaunchGeometry
    {
        /// <summary>The block size used on GPUs: 8 warps, enough to hide latency in the row kernels.</summary>
        public const int DefaultThreadsPerBlock = 256;

        /// <summary>Creates the geometry with a maximum block size (a power of two in [1, 1024]).</summary>
        /// <param name="maxThreadsPerBlock">Largest block any launch uses; tests pass small values to get many blocks.</param>
        public LaunchGeometry(int maxThreadsPerBlock = DefaultThreadsPerBlock)
        {
            if (maxThreadsPerBlock < 1 || maxThreadsPerBlock > KernelLimits.MaxThreadsPerBlock || !IsPowerOfTwo(maxThreadsPerBlock))
                throw new ArgumentOutOfRangeException(nameof(maxThreadsPerBlock), maxThreadsPerBlock,
                    $"maxThreadsPerBlock must be a power of two in [1, {KernelLimits.MaxThreadsPerBlock}]; got {maxThreadsPerBlock}.");
            MaxThreadsPerBlock = maxThreadsPerBlock;
        }

        /// <summary>Largest block size.</summary>
        public int MaxThreadsPerBlock { get; }

        /// <summary>
        /// The pair partition for T tokens and k slots: as many tokens per block as the block size allows while a
        /// block's pairs still fit <see cref="KernelLimits.MaxPairsPerBlock"/>.
        /// </summary>
        /// <param name="tokens">T ≥ 1.</param>
        /// <param name="topK">k ≥ 1.</param>
        /// <param name="numExperts">E (checked against <see cref="KernelLimits.MaxExperts"/>).</param>
        public PairPartition Partition(long tokens, int topK, int numExperts)
        {
            if (tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"tokens must be at least 1; got {tokens}.");
            if (numExperts < 1 || numExperts > KernelLimits.MaxExperts)
                throw new ArgumentOutOfRangeException(nameof(numExperts), numExperts,
                    $"The fused CUDA dispatch supports 1 to {KernelLimits.MaxExperts} experts; got {numExperts}.");
            if (topK < 1 || topK > numExperts)
                throw new ArgumentOutOfRangeException(nameof(topK), topK, $"topK must be in [1, {numExperts}]; got {topK}.");
            if (tokens * topK > int.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens,
                    $"The fused CUDA dispatch indexes (token, slot) pairs with 32-bit integers: T·k must be at most {int.MaxValue}; got {tokens}·{topK}.");
            var tokensPerBlock = MaxThreadsPerBlock;
            while (tokensPerBlock > 1 && tokensPerBlock * topK > KernelLimits.MaxPairsPerBlock) tokensPerBlock /= 2;
            return new PairPartition(tokens, topK, tokensPerBlock);
        }

        /// <summary>The per-expert scan of the block counts: one block per expert (at most the grid limit), full block size.</summary>
        /// <param name="numExperts">E.</param>
        public LaunchDims ExpertScan(int numExperts) => new(Math.Min(numExperts, MaxGridBlocks), MaxThreadsPerBlock);

        /// <summary>The scan of the E kept counts into offsets: one block of the full block size.</summary>
        public LaunchDims OffsetScan => new(1, MaxThreadsPerBlock);

        /// <summary>The rank-and-scatter launch: the partition's blocks, at most <see cref="KernelLimits.MaxRankThreads"/> threads each.</summary>
        /// <param name="partition">The pair partition the counts were made with.</param>
        public LaunchDims Rank(PairPartition partition) =>
            new(partition.Blocks, Math.Min(partition.TokensPerBlock, KernelLimits.MaxRankThreads));

        /// <summary>
        /// Row kernels: groups of <see cref="RowLaunch.RowThreads"/> threads per row (the smallest power of two ≥ the width in
        /// packets, at most 32 and at most the block size), as many rows per block as groups fit in the full block size,
        /// and enough blocks for one row per group (at most <see cref="MaxGridBlocks"/>; the kernels stride over the rest).
        /// </summary>
        /// <param name="rows">Rows to produce.</param>
        /// <param name="width">Row width in packets.</param>
        public RowLaunch Rows(long rows, long width)
        {
            if (rows < 0 || rows > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows must be in [0, {int.MaxValue}]; got {rows}.");
            if (width < 1 || width > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(width), width, $"width must be in [1, {int.MaxValue}]; got {width}.");
            var rowThreads = 1;
            while (rowThreads < width && rowThreads < MaxRowThreads && rowThreads < MaxThreadsPerBlock) rowThreads *= 2;
            var rowsPerBlock = MaxThreadsPerBlock / rowThreads;
            var blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
            return new RowLaunch(new LaunchDims((int)Math.Min(blocks, MaxGridBlocks), MaxThreadsPerBlock), rowThreads);
        }

        /// <summary>Most threads on one row: a warp, so a row's threads never wait on another warp's.</summary>
        public const int MaxRowThreads = 32;

        /// <summary>Grid-stride row kernels never need more blocks than this (beyond it the GPU is full anyway).</summary>
        public const int MaxGridBlocks = 1 << 20;

        private static bool IsPowerOfTwo(int value) => (value & (value - 1)) == 0;
    }
}
