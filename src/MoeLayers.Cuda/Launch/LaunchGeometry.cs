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

        /// <summary>The scan: one block of the full block size.</summary>
        public LaunchDims Scan => new(1, MaxThreadsPerBlock);

        /// <summary>
        /// Row kernels: one block per row (rows beyond the grid are covered by a grid-stride loop), threads striding over
        /// the columns: the smallest power of two ≥ width, between 32 (one warp) and the maximum block size.
        /// </summary>
        /// <param name="rows">Rows to produce.</param>
        /// <param name="width">Row width.</param>
        public LaunchDims Rows(long rows, long width)
        {
            if (rows < 0 || rows > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows must be in [0, {int.MaxValue}]; got {rows}.");
            if (width < 1 || width > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(width), width, $"width must be in [1, {int.MaxValue}]; got {width}.");
            var threads = Math.Min(32, MaxThreadsPerBlock);
            while (threads < width && threads < MaxThreadsPerBlock) threads *= 2;
            return new LaunchDims((int)Math.Min(rows, MaxGridBlocks), threads);
        }

        /// <summary>Grid-stride row kernels never need more blocks than this (beyond it the GPU is full anyway).</summary>
        public const int MaxGridBlocks = 1 << 20;

        private static bool IsPowerOfTwo(int value) => (value & (value - 1)) == 0;
    }
}
