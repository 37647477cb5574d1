using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers.Samples.Mnist.Sweep;
using ScottPlot;

namespace MoeLayers.Samples.Mnist.Plots
{
    /// <summary>Writes the sweep's figures as PNGs and returns their file names with captions.</summary>
    public static class SweepFigures
    {
        /// <summary>Draws every figure the results allow into <paramref name="folder"/>.</summary>
        /// <param name="results">The finished sweep.</param>
        /// <param name="folder">Output folder (created if missing).</param>
        /// <returns>File name (relative to the folder) and caption of each figure, in reading order.</returns>
        public static IReadOnlyList<(string File, string Caption)> WriteAll(SweepResults results, string folder)
        {
            ArgumentNullException.ThrowIfNull(results);
            ArgumentNullException.ThrowIfNull(folder);
            Directory.CreateDirectory(folder);
            var figures = new List<(string, string)>();
            void Add(string file, string caption, Action<string> draw)
            {
                draw(Path.Combine(folder, file));
                figures.Add((file, caption));
            }

            if (results.TopKs.Count > 0)
            {
                Add("accuracy-vs-experts.png", "Test accuracy against the number of experts, one line per lc, one panel per k " +
                    "(dashed: one expert).", path => AccuracyVsExperts(results, path));
            }
            if (results.Best is { } best)
            {
                Add("loss-curves.png", $"Training losses of ne = {best.NumExperts}, k = {best.TopK} for each lc (seed {best.FirstRun.Seed}, " +
                    $"mean of every {results.Training.CurveInterval} steps).", path => LossCurves(results, path));
                if (results.TopKs.Count > 1)
                {
                    Add("effect-of-k.png", $"Effect of k: test accuracy against ne at lc = {PlotStyle.Number(best.LoadCoefficient)}.",
                        path => EffectOfK(results, path));
                }
                if (results.Baseline is not null)
                {
                    Add("class-gain.png", "Class-wise test accuracy gain over one expert, in percentage points.", path => ClassGain(results, path));
                    Add("confusion-ne1.png", "Confusion matrix of the single expert (ne = 1).",
                        path => Confusion(results.Baseline.FirstRun, "one expert (ne = 1)", path));
                }
                Add("confusion-best.png", $"Confusion matrix of the best MoE (ne = {best.NumExperts}, k = {best.TopK}, lc = {PlotStyle.Number(best.LoadCoefficient)}).",
                    path => Confusion(best.FirstRun, $"best MoE (ne = {best.NumExperts}, k = {best.TopK}, lc = {PlotStyle.Number(best.LoadCoefficient)})", path));
                foreach (var ne in results.Experts.Where(n => n > 1))
                {
                    if (results.FocusFor(ne) is not { } config) continue;
                    Add($"routing-ne{ne}.png", $"Routing of the test digits with ne = {ne} (k = {config.TopK}, lc = {PlotStyle.Number(config.LoadCoefficient)}).",
                        path => Routing(config.FirstRun, path));
                }
            }
            return figures;
        }

        private static void AccuracyVsExperts(SweepResults results, string path)
        {
            var (figure, plots) = PlotStyle.NewRow(results.TopKs.Count);
            for (var panel = 0; panel < plots.Length; panel++)
            {
                var k = results.TopKs[panel];
                var plot = plots[panel];
                foreach (var lc in results.LoadCoefficients)
                {
                    var points = results.Experts.Where(ne => ne > 1).Select(ne => (ne, config: results.Find(ne, k, lc)))
                        .Where(p => p.config is not null).ToArray();
                    if (points.Length == 0) continue;
                    var line = plot.Add.Scatter(points.Select(p => (double)p.ne).ToArray(),
                        points.Select(p => p.config!.MeanAccuracy * 100).ToArray());
                    line.LegendText = $"lc = {PlotStyle.Number(lc)}";
                    line.LineWidth = 2;
                    line.MarkerSize = 6;
                }
                AddBaseline(plot, results);
                plot.Title($"k = {k}");
                plot.XLabel("number of experts ne");
                plot.YLabel("test accuracy (%)");
                PlotStyle.IntegerTicks(plot.Axes.Bottom);
                plot.ShowLegend(Alignment.LowerRight);
            }
            ShareY(plots);
            PlotStyle.Save(figure, path, 520 * plots.Length, 480);
        }

        private static void LossCurves(SweepResults results, string path)
        {
            var best = results.Best!;
            var (figure, panels) = PlotStyle.NewRow(2);
            var network = panels[0];
            var gate = panels[1];
            foreach (var lc in results.LoadCoefficients)
            {
                if (results.Find(best.NumExperts, best.TopK, lc) is not { } config) continue;
                var curve = config.FirstRun.Curve;
                var xs = curve.Select(p => p.Epochs).ToArray();
                var n = network.Add.Scatter(xs, curve.Select(p => p.NetworkLoss).ToArray());
                n.LegendText = $"lc = {PlotStyle.Number(lc)}";
                n.LineWidth = 2;
                n.MarkerSize = 3;
                // Log scale by hand: plot log10 and label the ticks with powers of ten.
                var g = gate.Add.Scatter(xs, curve.Select(p => Math.Log10(Math.Max(p.GateLoss, 1e-6))).ToArray());
                g.LegendText = $"lc = {PlotStyle.Number(lc)}";
                g.LineWidth = 2;
                g.MarkerSize = 3;
            }
            network.Title("network loss (cross-entropy)");
            network.XLabel("epochs");
            network.YLabel("training loss");
            network.ShowLegend(Alignment.UpperRight);
            gate.Title("gate loss (CV² of expert importance, before lc)");
            gate.XLabel("epochs");
            gate.YLabel("gate loss (log scale)");
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => PlotStyle.Number(Math.Pow(10, y)),
            };
            gate.Axes.Left.TickGenerator = ticks;
            gate.ShowLegend(Alignment.UpperRight);
            PlotStyle.Save(figure, path, 1200, 480);
        }

        private static void EffectOfK(SweepResults results, string path)
        {
            var lc = results.Best!.LoadCoefficient;
            var plot = PlotStyle.NewPlot();
            foreach (var k in results.TopKs)
            {
                var points = results.Experts.Where(ne => ne > 1).Select(ne => (ne, config: results.Find(ne, k, lc)))
                    .Where(p => p.config is not null).ToArray();
                if (points.Length == 0) continue;
                var line = plot.Add.Scatter(points.Select(p => (double)p.ne).ToArray(), points.Select(p => p.config!.MeanAccuracy * 100).ToArray());
                line.LegendText = $"k = {k}";
                line.LineWidth = 2;
                line.MarkerSize = 6;
            }
            AddBaseline(plot, results);
            plot.Title($"Effect of k (lc = {PlotStyle.Number(lc)})");
            plot.XLabel("number of experts ne");
            plot.YLabel("test accuracy (%)");
            PlotStyle.IntegerTicks(plot.Axes.Bottom);
            plot.ShowLegend(Alignment.LowerRight);
            PlotStyle.Save(plot, path, 800, 520);
        }

        private static void ClassGain(SweepResults results, string path)
        {
            var baseline = results.Baseline!.MeanClassAccuracy;
            var rows = results.Experts.Where(ne => ne > 1).Select(ne => (ne, config: results.FocusFor(ne))).Where(r => r.config is not null).ToArray();
            var classes = baseline.Length;
            var gains = new double[rows.Length, classes];
            for (var r = 0; r < rows.Length; r++)
                for (var c = 0; c < classes; c++) gains[r, c] = (rows[r].config!.MeanClassAccuracy[c] - baseline[c]) * 100;
            var limit = Math.Max(0.5, gains.Cast<double>().Select(Math.Abs).DefaultIfEmpty(0).Max());
            var plot = PlotStyle.NewPlot();
            var best = results.Best!;
            PlotStyle.AnnotatedHeatmap(plot, gains, (r, c) => (gains[r, c] >= 0 ? "+" : "−") + Math.Abs(gains[r, c]).ToString("F1", System.Globalization.CultureInfo.InvariantCulture),
                rows.Select(r => r.config!.TopK == best.TopK ? $"{r.ne}" : $"{r.ne} (k={r.config.TopK})").ToArray(),
                PlotStyle.Indices(classes), new ScottPlot.Colormaps.Balance(), new ScottPlot.Range(-limit, limit), "gain (pp)");
            plot.Title($"Accuracy gain over one expert per digit (k = {best.TopK}, lc = {PlotStyle.Number(best.LoadCoefficient)})");
            plot.XLabel("digit");
            plot.YLabel("number of experts ne");
            PlotStyle.Save(plot, path, 900, 140 + 48 * rows.Length);
        }

        private static void Confusion(SweepRecord run, string title, string path)
        {
            var confusion = run.Test.Confusion;
            var classes = confusion.GetLength(0);
            // Colour the errors only: the diagonal would flatten the scale.
            var errors = new double[classes, classes];
            double max = 1;
            for (var t = 0; t < classes; t++)
            {
                for (var p = 0; p < classes; p++)
                {
                    errors[t, p] = t == p ? double.NaN : confusion[t, p];
                    if (t != p) max = Math.Max(max, confusion[t, p]);
                }
            }
            var plot = PlotStyle.NewPlot();
            PlotStyle.AnnotatedHeatmap(plot, errors, (t, p) => confusion[t, p].ToString(System.Globalization.CultureInfo.InvariantCulture),
                PlotStyle.Indices(classes), PlotStyle.Indices(classes), new ScottPlot.Colormaps.Amp(), new ScottPlot.Range(0, max),
                "misclassified images");
            plot.Title($"Confusion matrix, {title}: {run.Test.Accuracy * 100:F2}% (diagonal: correct)");
            plot.XLabel("predicted digit");
            plot.YLabel("true digit");
            PlotStyle.Save(plot, path, 760, 680);
        }

        private static void Routing(SweepRecord run, string path)
        {
            var shares = run.Test.RoutingSharesPerClass();
            var experts = shares.GetLength(0);
            var classes = shares.GetLength(1);
            var percent = new double[experts, classes];
            for (var e = 0; e < experts; e++)
                for (var c = 0; c < classes; c++) percent[e, c] = shares[e, c] * 100;
            var plot = PlotStyle.NewPlot();
            PlotStyle.AnnotatedHeatmap(plot, percent, (e, c) => percent[e, c].ToString("F0", System.Globalization.CultureInfo.InvariantCulture),
                PlotStyle.Indices(experts), PlotStyle.Indices(classes), new ScottPlot.Colormaps.Viridis(), new ScottPlot.Range(0, 100),
                "% of the digit's assignments");
            plot.Title($"Routing, ne = {experts}, k = {run.Model.TopK}, lc = {PlotStyle.Number(run.Model.LoadCoefficient)}: " +
                       $"test accuracy {run.Test.Accuracy * 100:F2}%");
            plot.XLabel("digit");
            plot.YLabel("expert");
            PlotStyle.Save(plot, path, 860, 150 + 46 * experts);
        }

        private static void AddBaseline(Plot plot, SweepResults results)
        {
            if (results.Baseline is not { } baseline) return;
            var line = plot.Add.HorizontalLine(baseline.MeanAccuracy * 100, 1.5f, Colors.Gray, LinePattern.Dashed);
            line.LegendText = "ne = 1";
        }

        private static void ShareY(IReadOnlyList<Plot> plots)
        {
            if (plots.Count < 2) return;
            var limits = plots.Select(p => { p.Axes.AutoScale(); return p.Axes.GetLimits(); }).ToArray();
            var bottom = limits.Min(l => l.Bottom);
            var top = limits.Max(l => l.Top);
            foreach (var p in plots) p.Axes.SetLimitsY(bottom, top);
        }
    }
}
