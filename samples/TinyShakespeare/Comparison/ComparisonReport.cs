using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare.Comparison
{
    /// <summary>The comparison table of several runs, as Markdown (for the README) and on the console.</summary>
    public static class ComparisonReport
    {
        private static readonly string[] Headers =
        {
            "router", "k", "parameters", "validation loss", "train loss", "s/step", "tokens/s", "peak memory (MiB)",
            "max/mean expert load", "dropped",
        };

        /// <summary>One row per run, best validation loss first; failed runs are listed with their exit code.</summary>
        public static string ToMarkdown(IReadOnlyList<RunSummary> runs, IReadOnlyList<(string Router, int ExitCode)> failures)
        {
            var builder = new StringBuilder();
            builder.AppendLine("| " + string.Join(" | ", Headers) + " |");
            builder.AppendLine("|" + string.Join("|", Headers.Select((_, i) => i == 0 ? " --- " : " ---: ")) + "|");
            foreach (var row in Rows(runs)) builder.AppendLine("| " + string.Join(" | ", row) + " |");
            foreach (var (router, exitCode) in failures)
                builder.AppendLine($"| {router} | failed (exit code {exitCode}) |" + string.Concat(Enumerable.Repeat(" |", Headers.Length - 2)));
            return builder.ToString();
        }

        /// <summary>Prints the table.</summary>
        public static void Write(IReadOnlyList<RunSummary> runs)
        {
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var (header, i) in Headers.Select((h, i) => (h, i)))
                table.AddColumn(i == 0 ? new TableColumn(header) : new TableColumn(header).RightAligned());
            foreach (var row in Rows(runs)) table.AddRow(row.Select(Markup.Escape).ToArray());
            AnsiConsole.Write(table);
        }

        private static IEnumerable<string[]> Rows(IReadOnlyList<RunSummary> runs) =>
            runs.OrderBy(r => r.FinalValidationLoss).Select(r => new[]
            {
                r.Router,
                r.TopK.ToString(CultureInfo.InvariantCulture),
                r.Parameters.ToString("N0", CultureInfo.InvariantCulture),
                r.FinalValidationLoss.ToString("F4", CultureInfo.InvariantCulture),
                r.FinalTrainLoss.ToString("F4", CultureInfo.InvariantCulture),
                r.SecondsPerIteration.ToString("F3", CultureInfo.InvariantCulture),
                r.TokensPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                r.PeakMemoryMiB.ToString("F0", CultureInfo.InvariantCulture),
                r.MeanMaxLoadRatio.ToString("F2", CultureInfo.InvariantCulture),
                r.MeanDroppedFraction.ToString("P1", CultureInfo.InvariantCulture),
            });
    }
}
