using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MoeLayers.Samples.Mnist.Model;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>The sweep's tables: one CSV row per run, and a Markdown summary with the findings' figures.</summary>
    public static class ResultsTables
    {
        private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

        /// <summary>One row per run: configuration, seed, losses, test accuracy and per-class accuracy.</summary>
        public static string Csv(SweepResults results)
        {
            ArgumentNullException.ThrowIfNull(results);
            var classes = MnistMoeSettings.ClassCount;
            var csv = new StringBuilder();
            csv.Append("router,ne,k,lc,seed,epochs,batch_size,lr,train_images,test_accuracy,test_network_loss,")
               .Append("train_network_loss,train_gate_loss,train_seconds");
            for (var c = 0; c < classes; c++) csv.Append(",class_").Append(c).Append("_accuracy");
            csv.Append('\n');
            var t = results.Training;
            foreach (var r in results.Records)
            {
                var m = r.Model;
                csv.Append(string.Join(",", m.Router, m.NumExperts, m.TopK, G(m.LoadCoefficient), r.Seed, t.Epochs, t.BatchSize,
                    G(t.LearningRate), t.TrainLimit?.ToString(Invariant) ?? "60000", F(r.Test.Accuracy, 4), F(r.Test.NetworkLoss, 5),
                    F(r.TrainNetworkLoss, 5), F(r.TrainGateLoss, 5), F(r.Seconds, 1)));
                foreach (var a in r.Test.ClassAccuracy()) csv.Append(',').Append(F(a, 4));
                csv.Append('\n');
            }
            return csv.ToString();
        }

        /// <summary>The Markdown summary: settings, accuracy tables, class gains and the routing-overlap analysis.</summary>
        /// <param name="results">The sweep.</param>
        /// <param name="command">The command line that reproduces it.</param>
        /// <param name="figures">File name and caption of each figure written beside the table.</param>
        /// <param name="minutes">Wall time of the sweep.</param>
        public static string Markdown(SweepResults results, string command, IReadOnlyList<(string File, string Caption)> figures, double minutes)
        {
            ArgumentNullException.ThrowIfNull(results);
            var t = results.Training;
            var md = new StringBuilder();
            md.AppendLine("# MNIST Mixture-of-Experts sweep").AppendLine();
            md.AppendLine($"`{command}`").AppendLine();
            md.AppendLine($"{results.Records.Count} runs ({results.Configs.Count} configurations × {results.Seeds.Count} seed(s): " +
                          $"{string.Join(", ", results.Seeds)}), {results.Router} router, {t.Epochs} epoch(s) per run, batch {t.BatchSize}, " +
                          $"Adam lr {G(t.LearningRate)}, {(t.TrainLimit is { } l ? $"the first {l:N0}" : "all 60,000")} training images, " +
                          $"all 10,000 test images; {minutes:F1} minutes. Accuracies are on the test set after the last epoch, " +
                          "averaged over the seeds. ne = 1 is one run per seed (one expert: the gate loss is 0 and lc cannot matter).");
            md.AppendLine();

            md.AppendLine("## Headline").AppendLine();
            if (results.Baseline is { } b) md.AppendLine($"- Single expert (ne = 1): **{Pct(b.MeanAccuracy)}**{Sd(b)}.");
            if (results.Best is { } best)
            {
                md.AppendLine($"- Best MoE: ne = {best.NumExperts}, k = {best.TopK}, lc = {G(best.LoadCoefficient)}: **{Pct(best.MeanAccuracy)}**{Sd(best)}" +
                              (results.Baseline is { } b2 ? $", {Pp(best.MeanAccuracy - b2.MeanAccuracy)} over one expert." : "."));
            }
            md.AppendLine();

            md.AppendLine("## Test accuracy (%)").AppendLine();
            foreach (var k in results.TopKs)
            {
                md.AppendLine($"k = {k}:").AppendLine();
                md.AppendLine(Pivot(results, k, c => F(c.MeanAccuracy * 100, 2) + (results.Seeds.Count > 1 ? $" ± {F(c.AccuracySd * 100, 2)}" : "")));
            }
            if (results.Best is { } focus)
            {
                md.AppendLine($"## Gate loss (CV² of the expert importance, mean over the last epoch), k = {focus.TopK}").AppendLine();
                md.AppendLine(Pivot(results, focus.TopK, c => F(c.MeanTrainGateLoss, 4)));
            }

            ClassGains(results, md);
            Overlaps(results, md);

            if (figures.Count > 0)
            {
                md.AppendLine("## Figures").AppendLine();
                foreach (var (file, caption) in figures) md.AppendLine(caption).AppendLine().AppendLine($"![{file}]({file})").AppendLine();
            }
            return md.ToString();
        }

        /// <summary>Rows ne, columns lc, for one k; ne = 1 shows the baseline in every column.</summary>
        private static string Pivot(SweepResults results, int k, Func<ConfigSummary, string> cell)
        {
            var md = new StringBuilder();
            md.Append("| ne |").AppendJoin("", results.LoadCoefficients.Select(lc => $" lc = {G(lc)} |")).AppendLine();
            md.Append("| ---: |").AppendJoin("", results.LoadCoefficients.Select(_ => " ---: |")).AppendLine();
            foreach (var ne in results.Experts)
            {
                if (ne > 1 && ne < k) continue;
                md.Append($"| {ne} |");
                foreach (var lc in results.LoadCoefficients)
                {
                    var config = ne == 1 ? results.Baseline : results.Find(ne, k, lc);
                    md.Append(' ').Append(config is null ? "" : cell(config)).Append(" |");
                }
                md.AppendLine();
            }
            return md.ToString();
        }

        private static void ClassGains(SweepResults results, StringBuilder md)
        {
            if (results.Baseline is not { } baseline || results.Best is not { } best) return;
            md.AppendLine($"## Class-wise accuracy: one expert vs the best MoE (ne = {best.NumExperts}, k = {best.TopK}, lc = {G(best.LoadCoefficient)})").AppendLine();
            md.AppendLine("| digit | ne = 1 | best MoE | gain |").AppendLine("| ---: | ---: | ---: | ---: |");
            for (var c = 0; c < baseline.MeanClassAccuracy.Length; c++)
            {
                md.AppendLine($"| {c} | {Pct(baseline.MeanClassAccuracy[c])} | {Pct(best.MeanClassAccuracy[c])} | " +
                              $"{Pp(best.MeanClassAccuracy[c] - baseline.MeanClassAccuracy[c])} |");
            }
            md.AppendLine();
        }

        private static void Overlaps(SweepResults results, StringBuilder md)
        {
            if (results.Best is null) return;
            var confusionSource = results.Baseline?.FirstRun ?? results.Best.FirstRun;
            var confusion = confusionSource.Test.Confusion;
            var classes = confusion.GetLength(0);
            var pairs = RoutingOverlap.Pairs(classes).ToList();
            var confusions = pairs.Select(p => (double)RoutingOverlap.Confusions(confusion, p.A, p.B)).ToList();
            var mostConfused = pairs.Zip(confusions).OrderByDescending(z => z.Second).Take(5).Select(z => z.First).ToList();

            md.AppendLine("## Do confusable digits share experts?").AppendLine();
            md.AppendLine($"Confusability of a digit pair: how often the {(results.Baseline is null ? "best MoE" : "single-expert model")} " +
                          "mistakes one for the other on the test set (seed " + confusionSource.Seed + "). Routing overlap of a pair: " +
                          "Σₑ min(sₑ|a, sₑ|b), where sₑ|c is the share of digit c's test assignments that expert e took " +
                          "(1 = routed identically, 0 = disjoint experts). ρ: Spearman correlation of the two over all 45 pairs " +
                          "(— when every pair overlaps fully, as when k = ne sends every image to every expert). " +
                          "Most confused pairs: " + string.Join(", ", mostConfused.Select(p => $"{p.A}–{p.B} ({RoutingOverlap.Confusions(confusion, p.A, p.B)})")) + ".");
            md.AppendLine();
            md.AppendLine("| ne | k | lc | ρ(overlap, confusions) | overlap, 5 most confused pairs | overlap, all pairs |");
            md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var ne in results.Experts.Where(n => n > 1))
            {
                if (results.FocusFor(ne) is not { } config) continue;
                var shares = config.FirstRun.Test.RoutingSharesPerClass();
                var overlaps = pairs.Select(p => RoutingOverlap.Overlap(shares, p.A, p.B)).ToList();
                var rho = RoutingOverlap.Spearman(overlaps, confusions);
                var top = mostConfused.Average(p => RoutingOverlap.Overlap(shares, p.A, p.B));
                md.AppendLine($"| {ne} | {config.TopK} | {G(config.LoadCoefficient)} | {(double.IsNaN(rho) ? "—" : F(rho, 2))} | {F(top, 2)} | {F(overlaps.Average(), 2)} |");
            }
            md.AppendLine();
        }

        private static string Sd(ConfigSummary c) => c.Runs.Count > 1 ? $" ± {F(c.AccuracySd * 100, 2)}" : "";

        private static string Pct(double fraction) => F(fraction * 100, 2) + "%";

        private static string Pp(double fraction) => (fraction >= 0 ? "+" : "−") + F(Math.Abs(fraction) * 100, 2) + " pp";

        private static string F(double value, int decimals) => value.ToString("F" + decimals, Invariant);

        private static string G(double value) => value.ToString("G4", Invariant);
    }
}
