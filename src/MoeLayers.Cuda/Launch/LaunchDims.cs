namespace MoeLayers.Cuda
{
    /// <summary>A one-dimensional launch: <paramref name="Blocks"/> thread blocks of <paramref name="Threads"/> threads.</summary>
    /// <param name="Blocks">Grid size (x).</param>
    /// <param name="Threads">Block size (x).</param>
    internal readonly record struct LaunchDims(int Blocks, int Threads);
}
