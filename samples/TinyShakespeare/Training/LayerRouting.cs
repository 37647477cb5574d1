using System.Linq;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>Routing of one MoE layer summed over a stretch of training steps.</summary>
    /// <param name="Layer">Block index, 0 first.</param>
    /// <param name="TokensPerExpert">(token, slot) pairs the router sent to each expert.</param>
    /// <param name="ProcessedPerExpert">Pairs each expert processed after capacity.</param>
    public sealed record LayerRouting(int Layer, long[] TokensPerExpert, long[] ProcessedPerExpert)
    {
        /// <summary>All pairs routed.</summary>
        public long Assignments => TokensPerExpert.Sum();

        /// <summary>Pairs dropped because their expert was full, over all pairs.</summary>
        public double DroppedFraction => Assignments == 0 ? 0 : 1 - (double)ProcessedPerExpert.Sum() / Assignments;

        /// <summary>Busiest expert's share over the mean share: 1 when balanced, E when one expert takes all.</summary>
        public double MaxMeanLoadRatio =>
            Assignments == 0 ? 0 : TokensPerExpert.Max() / ((double)Assignments / TokensPerExpert.Length);

        /// <summary>Each expert's share of the pairs, in [0, 1].</summary>
        public double[] Shares => TokensPerExpert.Select(c => Assignments == 0 ? 0 : (double)c / Assignments).ToArray();
    }
}
