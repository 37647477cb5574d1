using System.Text.Json;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Comparison;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using MoeLayers.Samples.TinyShakespeare.Training;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class ComparisonReportTests
    {
        [Fact]
        public void Markdown_table_lists_runs_best_validation_loss_first_then_failures()
        {
            var runs = new[] { Summary("switch", 1.9, 0.05), Summary("top-k", 1.8, 0.1) };

            var markdown = ComparisonReport.ToMarkdown(runs, new[] { ("autonomy-of-experts", 1) });

            var lines = markdown.TrimEnd().Split('\n');
            lines.Should().HaveCount(5);
            lines[0].Should().StartWith("| router | seed | k | experts | parameters | validation loss |");
            lines[2].Should().Be("| top-k |  | 2 |  | 1,000 | 1.8000 | 1.7000 | 0.100 | 5,120 | 300 | 0.00 | 0.000 | 1.50 | 0.0 % |",
                "a summary written before seeds, expert counts and per-step loads leaves those cells empty or 0");
            lines[3].Should().StartWith("| switch |  | 2 |  | 1,000 | 1.9000 |");
            lines[4].Should().StartWith("| autonomy-of-experts | failed (exit code 1) |");
            lines.Should().OnlyContain(l => l.Split('|').Length == 16, "every row has the 14 columns");
        }

        [Fact]
        public void Run_summary_round_trips_through_json()
        {
            var summary = Summary("noisy-top-k", 1.75, 0.2);

            var json = JsonSerializer.Serialize(summary, Checkpoint.JsonOptions);
            var back = JsonSerializer.Deserialize<RunSummary>(json, Checkpoint.JsonOptions)!;

            back.FinalValidationLoss.Should().Be(1.75);
            back.History.Should().Equal(summary.History);
            back.Routing[0].TokensPerExpert.Should().Equal(30, 10);
            back.MeanMaxLoadRatio.Should().Be(1.5);
            back.MeanLoadCoefficientOfVariation.Should().BeApproximately(0.5, 1e-12, "counts [30, 10]: std 10 over mean 20");
        }

        private static RunSummary Summary(string router, double validation, double secondsPerStep) => new()
        {
            Router = router,
            TopK = 2,
            Parameters = 1000,
            Iterations = 10,
            TokensPerStep = 512,
            FinalTrainLoss = validation - 0.1,
            FinalValidationLoss = validation,
            FinalEvalBatches = 200,
            SecondsPerIteration = secondsPerStep,
            TokensPerSecond = 512 / secondsPerStep,
            WallSeconds = 2,
            PeakMemoryMiB = 300,
            Threads = 2,
            History = new[] { new EvaluationPoint(10, validation - 0.1, validation, 1.0) },
            Routing = new[] { new LayerRouting(0, new long[] { 30, 10 }, new long[] { 30, 10 }) },
        };
    }
}
