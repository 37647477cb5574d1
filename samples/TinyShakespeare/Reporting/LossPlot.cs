using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.TinyShakespeare.Storage;
using MoeLayers.Samples.TinyShakespeare.Training;
using ScottPlot;

namespace MoeLayers.Samples.TinyShakespeare.Reporting
{
    /// <summary>Loss curves as PNG files (ScottPlot), written atomically.</summary>
    public static class LossPlot
    {
        private const int Width = 900;
        private const int Height = 540;

        /// <summary>Train and validation loss of one run against the iteration.</summary>
        public static void SaveTrainingCurves(string path, IReadOnlyList<EvaluationPoint> history, string title)
        {
            ArgumentNullException.ThrowIfNull(history);
            var plot = new Plot();
            AddCurve(plot, history, p => p.TrainLoss, "train");
            AddCurve(plot, history, p => p.ValidationLoss, "validation");
            Save(plot, path, title);
        }

        /// <summary>The validation curves of several runs on one plot.</summary>
        public static void SaveValidationComparison(string path, IReadOnlyList<(string Label, IReadOnlyList<EvaluationPoint> History)> runs, string title)
        {
            ArgumentNullException.ThrowIfNull(runs);
            var plot = new Plot();
            foreach (var (label, history) in runs) AddCurve(plot, history, p => p.ValidationLoss, label);
            Save(plot, path, title);
        }

        private static void AddCurve(Plot plot, IReadOnlyList<EvaluationPoint> history, Func<EvaluationPoint, double> loss, string label)
        {
            if (history.Count == 0) return;
            var curve = plot.Add.Scatter(history.Select(p => (double)p.Iteration).ToArray(), history.Select(loss).ToArray());
            curve.LegendText = label;
            curve.LineWidth = 2;
            curve.MarkerSize = history.Count > 40 ? 0 : 5;
        }

        private static void Save(Plot plot, string path, string title)
        {
            plot.Title(title);
            plot.XLabel("iteration");
            plot.YLabel("cross-entropy (nats per character)");
            plot.ShowLegend(Alignment.UpperRight);
            AtomicFile.WriteAllBytes(path, plot.GetImageBytes(Width, Height, ImageFormat.Png));
        }
    }
}
