using System.Linq;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>Routing of one MoE layer summed over a stretch of training steps.</summary>
    /// <param name="Layer">Block index, 0 first.</param>
    /// <param name="TokensPerExpert">(token, slot) pairs the router sent to each expert.</param>
    /// <param name="ProcessedPerExpert">Pairs each expert processed after capacity.</param>
    public sealed record LayerRouting(int Layer, long[] TokensPerExpert, long[] ProcessedPerExpert)
    {
        /// <summary>Training steps tallied (0 in summaries written before this field).</summary>
        public int Steps { get; init; }

        /// <summary>
        /// The library's <see cref="RoutingStatistics.MaxMeanLoadRatio"/> of each step's counts, averaged over the steps
        /// (0 when none were tallied).
        /// </summary>
        public double MeanStepMaxMeanLoadRatio { get; init; }

        /// <summary>
        /// The library's <see cref="RoutingStatistics.LoadCoefficientOfVariation"/> of each step's counts, averaged over the
        /// steps (0 when none were tallied).
        /// </summary>
        public double MeanStepLoadCoefficientOfVariation { get; init; }

        /// <summary>All pairs routed.</summary>
        public long Assignments => TokensPerExpert.Sum();

        /// <summary>Pairs dropped because their expert was full, over all pairs.</summary>
        public double DroppedFraction => Assignments == 0 ? 0 : 1 - (double)ProcessedPerExpert.Sum() / Assignments;

        /// <summary>Busiest expert's share over the mean share of the summed counts: 1 when balanced, E when one expert takes all.</summary>
        public double MaxMeanLoadRatio => Statistics().MaxMeanLoadRatio;

        /// <summary>Standard deviation over mean of the summed per-expert counts (0 when balanced).</summary>
        public double LoadCoefficientOfVariation => Statistics().LoadCoefficientOfVariation;

        /// <summary>Each expert's share of the pairs, in [0, 1].</summary>
        public double[] Shares => TokensPerExpert.Select(c => Assignments == 0 ? 0 : (double)c / Assignments).ToArray();

        /// <summary>The summed counts as library statistics, so the load figures use the library's definitions.</summary>
        private RoutingStatistics Statistics() => new(TokensPerExpert, ProcessedPerExpert, null, 0, 0, 0);
    }
}
