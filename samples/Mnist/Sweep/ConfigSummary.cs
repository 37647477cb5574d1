using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.Mnist.Model;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>One configuration (ne, k, lc) of a sweep, over its seeds.</summary>
    public sealed class ConfigSummary
    {
        /// <summary>Summarizes the runs of one configuration (same model settings, different seeds).</summary>
        /// <param name="runs">At least one run; all with the same <see cref="SweepRecord.Model"/>.</param>
        public ConfigSummary(IReadOnlyList<SweepRecord> runs)
        {
            ArgumentNullException.ThrowIfNull(runs);
            if (runs.Count == 0) throw new ArgumentException("A configuration needs at least one run.", nameof(runs));
            if (runs.Any(r => r.Model != runs[0].Model)) throw new ArgumentException("All runs must share one configuration.", nameof(runs));
            Runs = runs;
            var accuracies = runs.Select(r => r.Test.Accuracy).ToArray();
            MeanAccuracy = accuracies.Average();
            AccuracySd = accuracies.Length < 2
                ? 0
                : Math.Sqrt(accuracies.Sum(a => (a - MeanAccuracy) * (a - MeanAccuracy)) / (accuracies.Length - 1));
            MeanTrainGateLoss = runs.Average(r => r.TrainGateLoss);
            MeanTrainNetworkLoss = runs.Average(r => r.TrainNetworkLoss);
            MeanTestNetworkLoss = runs.Average(r => r.Test.NetworkLoss);
            var classes = runs[0].Test.ClassCount;
            MeanClassAccuracy = Enumerable.Range(0, classes).Select(c => runs.Average(r => r.Test.ClassAccuracy()[c])).ToArray();
        }

        /// <summary>The configuration.</summary>
        public MnistMoeSettings Model => Runs[0].Model;

        /// <summary>ne.</summary>
        public int NumExperts => Model.NumExperts;

        /// <summary>k.</summary>
        public int TopK => Model.TopK;

        /// <summary>lc.</summary>
        public double LoadCoefficient => Model.LoadCoefficient;

        /// <summary>The runs, in seed order.</summary>
        public IReadOnlyList<SweepRecord> Runs { get; }

        /// <summary>The run with the first seed: the one whose confusion matrix and routing are plotted.</summary>
        public SweepRecord FirstRun => Runs[0];

        /// <summary>Mean test accuracy over the seeds.</summary>
        public double MeanAccuracy { get; }

        /// <summary>Sample standard deviation of the test accuracy over the seeds (0 for one seed).</summary>
        public double AccuracySd { get; }

        /// <summary>Mean over seeds of the last epoch's mean gate loss.</summary>
        public double MeanTrainGateLoss { get; }

        /// <summary>Mean over seeds of the last epoch's mean network loss.</summary>
        public double MeanTrainNetworkLoss { get; }

        /// <summary>Mean over seeds of the test network loss.</summary>
        public double MeanTestNetworkLoss { get; }

        /// <summary>Mean over seeds of each class's test accuracy.</summary>
        public double[] MeanClassAccuracy { get; }
    }
}
