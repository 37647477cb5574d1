using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>
    /// A finished sweep: its runs grouped by configuration, the single-expert baseline, the best MoE, and the (k, lc) the
    /// per-ne figures use (the best configuration's).
    /// </summary>
    public sealed class SweepResults
    {
        /// <summary>Groups <paramref name="records"/> by configuration, keeping the grid order.</summary>
        /// <param name="records">Every run of the sweep, at least one.</param>
        /// <param name="training">The training settings every run used (its seed is ignored).</param>
        /// <param name="router">The routing rule every run used.</param>
        public SweepResults(IReadOnlyList<SweepRecord> records, TrainingSettings training, RouterKind router)
        {
            ArgumentNullException.ThrowIfNull(records);
            if (records.Count == 0) throw new ArgumentException("A sweep needs at least one run.", nameof(records));
            Records = records;
            Training = training;
            Router = router;
            Configs = records.GroupBy(r => r.Model).Select(g => new ConfigSummary(g.OrderBy(r => r.Seed).ToList())).ToList();
            Experts = Configs.Select(c => c.NumExperts).Distinct().Order().ToList();
            TopKs = Configs.Where(c => c.NumExperts > 1).Select(c => c.TopK).Distinct().Order().ToList();
            LoadCoefficients = Configs.Where(c => c.NumExperts > 1).Select(c => c.LoadCoefficient).Distinct().Order().ToList();
            Seeds = records.Select(r => r.Seed).Distinct().Order().ToList();
            Baseline = Configs.FirstOrDefault(c => c.NumExperts == 1);
            Best = Configs.Where(c => c.NumExperts > 1)
                .OrderByDescending(c => c.MeanAccuracy).ThenBy(c => c.NumExperts).ThenBy(c => c.TopK).ThenBy(c => c.LoadCoefficient)
                .FirstOrDefault();
        }

        /// <summary>Every run.</summary>
        public IReadOnlyList<SweepRecord> Records { get; }

        /// <summary>The shared training settings.</summary>
        public TrainingSettings Training { get; }

        /// <summary>The shared routing rule.</summary>
        public RouterKind Router { get; }

        /// <summary>One summary per configuration, in grid order.</summary>
        public IReadOnlyList<ConfigSummary> Configs { get; }

        /// <summary>The ne values, ascending.</summary>
        public IReadOnlyList<int> Experts { get; }

        /// <summary>The k values of the MoE runs (ne ≥ 2), ascending.</summary>
        public IReadOnlyList<int> TopKs { get; }

        /// <summary>The lc values of the MoE runs (ne ≥ 2), ascending.</summary>
        public IReadOnlyList<double> LoadCoefficients { get; }

        /// <summary>The seeds, ascending.</summary>
        public IReadOnlyList<int> Seeds { get; }

        /// <summary>The single-expert model (ne = 1), or null when the grid has no ne = 1.</summary>
        public ConfigSummary? Baseline { get; }

        /// <summary>The MoE configuration (ne ≥ 2) with the highest mean test accuracy, or null when there is none.</summary>
        public ConfigSummary? Best { get; }

        /// <summary>The configuration (ne, k, lc), or null when the grid does not have it.</summary>
        public ConfigSummary? Find(int numExperts, int topK, double loadCoefficient) =>
            Configs.FirstOrDefault(c => c.NumExperts == numExperts && c.TopK == topK && c.LoadCoefficient == loadCoefficient);

        /// <summary>
        /// The configuration the per-ne figures show for <paramref name="numExperts"/>: the best configuration's lc and k,
        /// or the largest k of the grid that fits when ne is smaller than that k. Null when the grid lacks it.
        /// </summary>
        public ConfigSummary? FocusFor(int numExperts)
        {
            if (numExperts == 1) return Baseline;
            if (Best is null) return null;
            var k = TopKs.Where(k => k <= Math.Min(Best.TopK, numExperts)).DefaultIfEmpty(0).Max();
            return k == 0 ? null : Find(numExperts, k, Best.LoadCoefficient);
        }
    }
}
