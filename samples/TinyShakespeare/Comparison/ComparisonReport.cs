using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare.Comparison
{
    /// <summary>
    /// The comparison tables: one row per run, and (over several seeds) one row per router with the mean ± sample
    /// standard deviation of each figure. As Markdown (for the README) and on the console.
    /// </summary>
    public static class ComparisonReport
    {
        private static readonly string[] Headers =
        {
            "router", "seed", "k", "experts", "parameters", "validation loss", "train loss", "s/step", "tokens/s", "peak memory (MiB)",
            "max/mean load (step)", "load CV (step)", "max/mean load (run)", "dropped",
        };

        private static readonly string[] AggregateHeaders =
        {
            "router", "k", "experts", "parameters", "seeds", "validation loss", "validation min–max", "max/mean load (step)",
            "load CV (step)", "max/mean load (run)", "load CV (run)", "s/step",
        };

        /// <summary>One row per run, best validation loss first; failed runs are listed with their exit code.</summary>
        public static string ToMarkdown(IReadOnlyList<RunSummary> runs, IReadOnlyList<(string Router, int ExitCode)> failures) =>
            Markdown(Headers, Rows(runs), failures);

        /// <summary>
        /// One row per router over its seeds, best mean validation loss first: mean ± sample standard deviation (n − 1),
        /// and the validation loss's min–max; failed runs are listed with their exit code.
        /// </summary>
        public static string ToAggregateMarkdown(IReadOnlyList<SeedAggregate> routers, IReadOnlyList<(string Router, int ExitCode)> failures) =>
            Markdown(AggregateHeaders, AggregateRows(routers), failures);

        /// <summary>Prints the per-run table.</summary>
        public static void Write(IReadOnlyList<RunSummary> runs) => Write(Headers, Rows(runs));

        /// <summary>Prints the per-router table over seeds.</summary>
        public static void WriteAggregate(IReadOnlyList<SeedAggregate> routers) => Write(AggregateHeaders, AggregateRows(routers));

        /// <summary>"mean ± std" with <paramref name="format"/>; just the mean when there is one value.</summary>
        public static string MeanSpread(Spread spread, string format) =>
            double.IsNaN(spread.StandardDeviation)
                ? spread.Mean.ToString(format, CultureInfo.InvariantCulture)
                : $"{spread.Mean.ToString(format, CultureInfo.InvariantCulture)} ± {spread.StandardDeviation.ToString(format, CultureInfo.InvariantCulture)}";

        private static string Markdown(string[] headers, IEnumerable<string[]> rows, IReadOnlyList<(string Router, int ExitCode)> failures)
        {
            var builder = new StringBuilder();
            builder.AppendLine("| " + string.Join(" | ", headers) + " |");
            builder.AppendLine("|" + string.Join("|", headers.Select((_, i) => i == 0 ? " --- " : " ---: ")) + "|");
            foreach (var row in rows) builder.AppendLine("| " + string.Join(" | ", row) + " |");
            foreach (var (router, exitCode) in failures)
                builder.AppendLine($"| {router} | failed (exit code {exitCode}) |" + string.Concat(Enumerable.Repeat(" |", headers.Length - 2)));
            return builder.ToString();
        }

        private static void Write(string[] headers, IEnumerable<string[]> rows)
        {
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var (header, i) in headers.Select((h, i) => (h, i)))
                table.AddColumn(i == 0 ? new TableColumn(header) : new TableColumn(header).RightAligned());
            foreach (var row in rows) table.AddRow(row.Select(Markup.Escape).ToArray());
            AnsiConsole.Write(table);
        }

        private static string Experts(RunSummary r) =>
            r.Experts == 0 ? "" : r.SharedExperts == 0 ? Invariant(r.Experts) : $"{Invariant(r.Experts)} + {Invariant(r.SharedExperts)} shared";

        private static IEnumerable<string[]> Rows(IReadOnlyList<RunSummary> runs) =>
            runs.OrderBy(r => r.FinalValidationLoss).Select(r => new[]
            {
                r.Router,
                r.Seed == 0 ? "" : Invariant(r.Seed),
                Invariant(r.TopK),
                Experts(r),
                r.Parameters.ToString("N0", CultureInfo.InvariantCulture),
                r.FinalValidationLoss.ToString("F4", CultureInfo.InvariantCulture),
                r.FinalTrainLoss.ToString("F4", CultureInfo.InvariantCulture),
                r.SecondsPerIteration.ToString("F3", CultureInfo.InvariantCulture),
                r.TokensPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                r.PeakMemoryMiB.ToString("F0", CultureInfo.InvariantCulture),
                r.MeanStepMaxLoadRatio.ToString("F2", CultureInfo.InvariantCulture),
                r.MeanStepLoadCoefficientOfVariation.ToString("F3", CultureInfo.InvariantCulture),
                r.MeanMaxLoadRatio.ToString("F2", CultureInfo.InvariantCulture),
                r.MeanDroppedFraction.ToString("P1", CultureInfo.InvariantCulture),
            });

        private static IEnumerable<string[]> AggregateRows(IReadOnlyList<SeedAggregate> routers) =>
            routers.OrderBy(a => a.ValidationLoss.Mean).Select(a => new[]
            {
                a.Router,
                Invariant(a.Runs[0].TopK),
                Experts(a.Runs[0]),
                a.Runs[0].Parameters.ToString("N0", CultureInfo.InvariantCulture),
                Invariant(a.Runs.Count),
                MeanSpread(a.ValidationLoss, "F4"),
                $"{a.ValidationLoss.Min.ToString("F4", CultureInfo.InvariantCulture)}–{a.ValidationLoss.Max.ToString("F4", CultureInfo.InvariantCulture)}",
                MeanSpread(a.StepMaxMeanLoad, "F2"),
                MeanSpread(a.StepLoadVariation, "F3"),
                MeanSpread(a.RunMaxMeanLoad, "F3"),
                MeanSpread(a.RunLoadVariation, "F3"),
                MeanSpread(a.SecondsPerStep, "F3"),
            });

        private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
