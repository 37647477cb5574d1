using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using MoeLayers.Samples.TinyShakespeare.Training;

namespace MoeLayers.Samples.TinyShakespeare.Comparison
{
    /// <summary>The mean and spread of one figure over seeds.</summary>
    /// <param name="Mean">Arithmetic mean.</param>
    /// <param name="StandardDeviation">Sample standard deviation (n − 1 in the denominator); NaN for a single value.</param>
    /// <param name="Min">Smallest value.</param>
    /// <param name="Max">Largest value.</param>
    /// <param name="Count">Values aggregated.</param>
    public readonly record struct Spread(double Mean, double StandardDeviation, double Min, double Max, int Count)
    {
        /// <summary>The spread of <paramref name="values"/>.</summary>
        /// <exception cref="ArgumentException">No values.</exception>
        public static Spread Of(IEnumerable<double> values)
        {
            ArgumentNullException.ThrowIfNull(values);
            var all = values.ToArray();
            if (all.Length == 0) throw new ArgumentException("values must hold at least one number.", nameof(values));
            var mean = all.Average();
            var std = all.Length < 2 ? double.NaN : Math.Sqrt(all.Sum(v => (v - mean) * (v - mean)) / (all.Length - 1));
            return new Spread(mean, std, all.Min(), all.Max(), all.Length);
        }
    }

    /// <summary>One router's runs over several seeds, reduced to mean and spread.</summary>
    /// <param name="Router">Router or layer-style name.</param>
    /// <param name="Runs">The runs, one per seed.</param>
    public sealed record SeedAggregate(string Router, IReadOnlyList<RunSummary> Runs)
    {
        /// <summary>Final validation loss.</summary>
        public Spread ValidationLoss => Spread.Of(Runs.Select(r => r.FinalValidationLoss));

        /// <summary>Final training loss.</summary>
        public Spread TrainLoss => Spread.Of(Runs.Select(r => r.FinalTrainLoss));

        /// <summary>Per-step busiest-expert load over the mean, averaged over steps and layers (<see cref="RunSummary.MeanStepMaxLoadRatio"/>).</summary>
        public Spread StepMaxMeanLoad => Spread.Of(Runs.Select(r => r.MeanStepMaxLoadRatio));

        /// <summary>Per-step coefficient of variation of the loads, averaged over steps and layers.</summary>
        public Spread StepLoadVariation => Spread.Of(Runs.Select(r => r.MeanStepLoadCoefficientOfVariation));

        /// <summary>Max/mean load of the counts summed over the run, averaged over layers.</summary>
        public Spread RunMaxMeanLoad => Spread.Of(Runs.Select(r => r.MeanMaxLoadRatio));

        /// <summary>Coefficient of variation of the counts summed over the run, averaged over layers.</summary>
        public Spread RunLoadVariation => Spread.Of(Runs.Select(r => r.MeanLoadCoefficientOfVariation));

        /// <summary>Seconds per training step.</summary>
        public Spread SecondsPerStep => Spread.Of(Runs.Select(r => r.SecondsPerIteration));

        /// <summary>
        /// The validation curve averaged over the runs at every step all of them estimated (the runs share the schedule).
        /// </summary>
        public IReadOnlyList<EvaluationPoint> MeanHistory =>
            Runs.SelectMany(r => r.History).GroupBy(p => p.Iteration).Where(g => g.Count() == Runs.Count).OrderBy(g => g.Key)
                .Select(g => new EvaluationPoint(g.Key, g.Average(p => p.TrainLoss), g.Average(p => p.ValidationLoss), g.Average(p => p.TrainingSeconds)))
                .ToArray();

        /// <summary>Groups runs by router, in the order each router first appears.</summary>
        public static IReadOnlyList<SeedAggregate> Group(IEnumerable<RunSummary> runs)
        {
            ArgumentNullException.ThrowIfNull(runs);
            return runs.GroupBy(r => r.Router).Select(g => new SeedAggregate(g.Key, g.ToArray())).ToArray();
        }
    }
}
