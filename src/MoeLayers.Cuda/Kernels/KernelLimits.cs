namespace MoeLayers.Cuda
{
    /// <summary>
    /// Compile-time sizes of the kernels' shared-memory arrays, and therefore the largest problems one launch takes.
    /// Host code checks every call against these before launching (see <see cref="LaunchGeometry"/>).
    /// </summary>
    internal static class KernelLimits
    {
        /// <summary>Largest thread block any kernel is launched with (shared reduction and scan tiles are this long).</summary>
        public const int MaxThreadsPerBlock = 1024;

        /// <summary>Most experts a per-block histogram holds.</summary>
        public const int MaxExperts = 1024;

        /// <summary>
        /// Most (token, slot) pairs one block of the routing and permutation kernels owns: it bounds the block's serial
        /// work (the rank kernel walks them in chunks of its block size).
        /// </summary>
        public const int MaxPairsPerBlock = 2048;

        /// <summary>Pairs a rank thread compares its expert with: the chunk is cut into segments of this many threads.</summary>
        public const int RankSegment = 32;

        /// <summary>Largest block of the rank kernel: its segment-by-expert counts take MaxRankSegments · MaxExperts ints (32 KiB).</summary>
        public const int MaxRankThreads = 256;

        /// <summary>Segments of the largest rank block.</summary>
        public const int MaxRankSegments = MaxRankThreads / RankSegment;
    }
}
