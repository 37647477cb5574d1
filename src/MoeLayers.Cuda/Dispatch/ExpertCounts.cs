using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>Per-(expert, block) pair counts as the routing or counting kernel left them, with its status flag.</summary>
    /// <param name="BlockCounts">int32 [E · blocks], expert-major.</param>
    /// <param name="Status">int32 [1]: non-zero when the routing was invalid.</param>
    /// <param name="Partition">The pair partition the counts were made with.</param>
    internal sealed record ExpertCounts(Tensor BlockCounts, Tensor Status, PairPartition Partition);
}
