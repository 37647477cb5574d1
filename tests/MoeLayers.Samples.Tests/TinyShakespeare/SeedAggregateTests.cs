using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Commands;
using MoeLayers.Samples.TinyShakespeare.Comparison;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using MoeLayers.Samples.TinyShakespeare.Training;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class SeedAggregateTests
    {
        [Fact]
        public void Spread_is_the_mean_the_sample_standard_deviation_and_the_range()
        {
            var spread = Spread.Of(new[] { 1.0, 2.0, 3.0 });

            spread.Should().Be(new Spread(2.0, 1.0, 1.0, 3.0, 3), "std = sqrt(((1−2)² + 0 + (3−2)²) / (3 − 1)) = 1");
            double.IsNaN(Spread.Of(new[] { 5.0 }).StandardDeviation).Should().BeTrue("one seed has no spread");
            ComparisonReport.MeanSpread(Spread.Of(new[] { 5.0 }), "F2").Should().Be("5.00");
            ComparisonReport.MeanSpread(spread, "F3").Should().Be("2.000 ± 1.000");
            FluentActions.Invoking(() => Spread.Of(Array.Empty<double>())).Should().Throw<ArgumentException>();
        }

        [Fact]
        public void Runs_are_grouped_by_router_and_every_figure_is_aggregated_over_the_seeds()
        {
            var runs = new[]
            {
                Summary("deepseek", 1, validation: 1.80, stepMaxMean: 1.10, stepCv: 0.05, seconds: 0.10),
                Summary("top-k", 1, validation: 1.90, stepMaxMean: 1.30, stepCv: 0.20, seconds: 0.06),
                Summary("deepseek", 2, validation: 1.84, stepMaxMean: 1.20, stepCv: 0.07, seconds: 0.12),
                Summary("deepseek", 3, validation: 1.82, stepMaxMean: 1.30, stepCv: 0.09, seconds: 0.14),
            };

            var groups = SeedAggregate.Group(runs);

            groups.Select(g => g.Router).Should().Equal("deepseek", "top-k");
            var deepSeek = groups[0];
            deepSeek.Runs.Select(r => r.Seed).Should().Equal(1, 2, 3);
            deepSeek.ValidationLoss.Mean.Should().BeApproximately(1.82, 1e-12);
            deepSeek.ValidationLoss.StandardDeviation.Should().BeApproximately(0.02, 1e-12);
            (deepSeek.ValidationLoss.Min, deepSeek.ValidationLoss.Max).Should().Be((1.80, 1.84));
            deepSeek.StepMaxMeanLoad.Mean.Should().BeApproximately(1.20, 1e-12);
            deepSeek.StepMaxMeanLoad.StandardDeviation.Should().BeApproximately(0.10, 1e-12);
            deepSeek.StepLoadVariation.Mean.Should().BeApproximately(0.07, 1e-12);
            deepSeek.StepLoadVariation.StandardDeviation.Should().BeApproximately(0.02, 1e-12);
            deepSeek.SecondsPerStep.Mean.Should().BeApproximately(0.12, 1e-12);
            deepSeek.RunMaxMeanLoad.Mean.Should().BeApproximately(1.5, 1e-12, "the summed counts [30, 10] of every run: 30 / 20");
            deepSeek.RunLoadVariation.Mean.Should().BeApproximately(0.5, 1e-12, "std 10 over mean 20");
            deepSeek.MeanHistory.Should().ContainSingle().Which.ValidationLoss.Should().BeApproximately(1.82, 1e-12);
            double.IsNaN(groups[1].ValidationLoss.StandardDeviation).Should().BeTrue();
        }

        [Fact]
        public void The_aggregate_table_lists_routers_best_mean_validation_loss_first()
        {
            var runs = new[]
            {
                Summary("top-k", 1, 1.90, 1.30, 0.20, 0.06), Summary("top-k", 2, 1.92, 1.32, 0.22, 0.08),
                Summary("qwen", 1, 1.80, 1.10, 0.05, 0.10), Summary("qwen", 2, 1.84, 1.20, 0.07, 0.12),
            };

            var lines = ComparisonReport.ToAggregateMarkdown(SeedAggregate.Group(runs), new[] { ("switch (seed 2)", 1) }).TrimEnd().Split('\n');

            lines.Should().HaveCount(5);
            lines[0].Should().Be("| router | k | experts | parameters | seeds | validation loss | validation min–max | max/mean load (step) | load CV (step) | max/mean load (run) | load CV (run) | s/step |");
            lines[2].Should().Be("| qwen | 2 | 4 | 1,000 | 2 | 1.8200 ± 0.0283 | 1.8000–1.8400 | 1.15 ± 0.07 | 0.060 ± 0.014 | 1.500 ± 0.000 | 0.500 ± 0.000 | 0.110 ± 0.014 |");
            lines[3].Should().StartWith("| top-k | 2 | 4 | 1,000 | 2 | 1.9100 ± 0.0141 |");
            lines[4].Should().StartWith("| switch (seed 2) | failed (exit code 1) |");
            lines.Should().OnlyContain(l => l.Split('|').Length == 14, "every row has the 12 columns");
        }

        [Fact]
        public void Seeds_parse_from_a_comma_separated_list()
        {
            CompareCommand.ParseSeeds("1337, 1338,1339,1337").Should().Equal(1337, 1338, 1339);
            FluentActions.Invoking(() => CompareCommand.ParseSeeds("1337,x")).Should().Throw<ArgumentException>().WithMessage("*'x'*");
            FluentActions.Invoking(() => CompareCommand.ParseSeeds(" , ")).Should().Throw<ArgumentException>();
        }

        [Fact]
        public void The_tally_averages_each_steps_own_load_figures_from_the_library_statistics()
        {
            var tally = new RoutingTally(layers: 1, experts: 2);

            tally.Add(new[] { new RoutingStatistics(new long[] { 3, 1 }, new long[] { 3, 1 }, null, 0, 0, 0) }); // max/mean 1.5, CV 0.5
            tally.Add(new[] { new RoutingStatistics(new long[] { 2, 2 }, new long[] { 2, 2 }, null, 0, 0, 0) }); // max/mean 1, CV 0
            var layer = tally.Snapshot().Single();

            layer.Steps.Should().Be(2);
            layer.TokensPerExpert.Should().Equal(5, 3);
            layer.MeanStepMaxMeanLoadRatio.Should().BeApproximately(1.25, 1e-12);
            layer.MeanStepLoadCoefficientOfVariation.Should().BeApproximately(0.25, 1e-12);
            layer.MaxMeanLoadRatio.Should().BeApproximately(1.25, 1e-12, "the summed counts [5, 3]: 5 / 4");
            layer.LoadCoefficientOfVariation.Should().BeApproximately(0.25, 1e-12, "std 1 over mean 4");

            tally.Reset();
            tally.Snapshot().Single().Should().Match<LayerRouting>(l => l.Steps == 0 && l.MeanStepMaxMeanLoadRatio == 0 && l.Assignments == 0);
        }

        private static RunSummary Summary(string router, int seed, double validation, double stepMaxMean, double stepCv, double seconds) => new()
        {
            Router = router,
            TopK = 2,
            Experts = 4,
            Seed = seed,
            Parameters = 1000,
            Iterations = 10,
            TokensPerStep = 512,
            FinalTrainLoss = validation - 0.1,
            FinalValidationLoss = validation,
            FinalEvalBatches = 200,
            SecondsPerIteration = seconds,
            TokensPerSecond = 512 / seconds,
            WallSeconds = 2,
            PeakMemoryMiB = 300,
            Threads = 2,
            History = new[] { new EvaluationPoint(10, validation - 0.1, validation, 1.0) },
            Routing = new[]
            {
                new LayerRouting(0, new long[] { 30, 10 }, new long[] { 30, 10 })
                {
                    Steps = 10,
                    MeanStepMaxMeanLoadRatio = stepMaxMean,
                    MeanStepLoadCoefficientOfVariation = stepCv,
                },
            },
        };
    }
}
