using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.Mnist.Model;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>
    /// The runs of a sweep: every ne × k × lc × seed, except combinations with k &gt; ne (not a model), and with a single
    /// run per seed for ne = 1: one expert takes every image, its CV² gate loss is identically 0 and lc cannot matter,
    /// so that run (k = 1, lc = 0) is the baseline of every lc.
    /// </summary>
    public static class SweepGrid
    {
        /// <summary>Lists the runs, ne-major, then k, lc and seed.</summary>
        /// <param name="experts">ne values, each at least 1.</param>
        /// <param name="topK">k values, each at least 1.</param>
        /// <param name="loadCoefficients">lc values, each ≥ 0.</param>
        /// <param name="seeds">Seeds.</param>
        /// <param name="router">The routing rule of every run.</param>
        /// <exception cref="ArgumentException">A list is empty, or a run's settings are invalid (e.g. k &gt; 1 with Switch).</exception>
        public static IReadOnlyList<SweepCase> Cases(IReadOnlyList<int> experts, IReadOnlyList<int> topK,
            IReadOnlyList<double> loadCoefficients, IReadOnlyList<int> seeds, RouterKind router)
        {
            RequireValues(experts, nameof(experts));
            RequireValues(topK, nameof(topK));
            RequireValues(loadCoefficients, nameof(loadCoefficients));
            RequireValues(seeds, nameof(seeds));
            var cases = new List<SweepCase>();
            foreach (var ne in experts)
            {
                var models = ne == 1
                    ? new[] { new MnistMoeSettings(1, 1, 0, router) }
                    : topK.Where(k => k <= ne).SelectMany(k => loadCoefficients.Select(lc => new MnistMoeSettings(ne, k, lc, router)));
                foreach (var model in models)
                {
                    model.Validate();
                    cases.AddRange(seeds.Select(seed => new SweepCase(model, seed)));
                }
            }
            if (cases.Count == 0) throw new ArgumentException("The grid has no run: every k exceeds every ne.", nameof(topK));
            return cases;
        }

        private static void RequireValues<T>(IReadOnlyList<T> values, string name)
        {
            ArgumentNullException.ThrowIfNull(values, name);
            if (values.Count == 0) throw new ArgumentException($"{name} must list at least one value.", name);
        }
    }
}
