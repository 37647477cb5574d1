namespace MoeLayers.Cuda
{
    /// <summary>A one-dimensional launch: <paramref name="Blocks"/> thread blocks of <paramref name="Threads"/> threads.</summary>
    /// <param name="Blocks">Grid size (x).</param>
    /// <param name="Threads">Block size (x).</param>
    internal readonly record struct LaunchDims(int Blocks, int Threads);

    /// <summary>A row kernel's launch and how many threads share one row (a power of two dividing the block size).</summary>
    /// <param name="Dims">Grid and block size.</param>
    /// <param name="RowThreads">Threads per row.</param>
    internal readonly record struct RowLaunch(LaunchDims Dims, int RowThreads);
}
