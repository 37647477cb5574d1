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

        /// <summary>Most (token, slot) pairs one block ranks: the block's expert ids live in shared memory.</summary>
        public const int MaxPairsPerBlock = 2048;
    }
}
