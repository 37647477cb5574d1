using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using FluentAssertions;
using Xunit.Abstractions;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>
    /// The tiny-shakespeare sample (samples/TinyShakespeare) trained under <c>mpirun -np 2 ... train --expert-parallel</c>
    /// against the same command in one plain process: the same seed and options (quick preset, top-k router, dropout 0,
    /// 10 steps) give the same losses, and the options expert parallelism cannot take fail on every rank by name.
    /// </summary>
    [Collection("mpirun")]
    public sealed class TinyShakespeareExpertParallelTests
    {
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);
        private readonly ITestOutputHelper _output;

        public TinyShakespeareExpertParallelTests(ITestOutputHelper output)
        {
            _output = output;
        }

        private static string[] Train(string outFolder, params string[] extra) => new[]
        {
            "train", "--preset", "quick", "--router", "top-k", "--iterations", "10", "--eval-interval", "5", "--eval-batches", "1",
            "--final-eval-batches", "2", "--out", outFolder, "--overwrite",
        }.Concat(extra).ToArray();

        [Fact]
        public void TwoRanksWithShardedExpertsTrainToTheOneProcessLosses()
        {
            using var folder = new TemporaryFolder();
            var sample = MpiLauncher.TinyShakespeareAssembly();
            var aloneOut = Path.Combine(folder.Path, "one-process");
            var ranksOut = Path.Combine(folder.Path, "two-ranks");

            var alone = MpiLauncher.RunAlone(sample, Train(aloneOut, "--threads", "1"), Limit);
            alone.ExitCode.Should().Be(0, "the one-process run must finish:\n{0}", alone);
            var ranks = MpiLauncher.RunAssembly(2, sample, Train(ranksOut, "--expert-parallel"), Limit);
            ranks.ExitCode.Should().Be(0, "both ranks must finish:\n{0}", ranks);
            _output.WriteLine($"one process: {alone.Elapsed.TotalSeconds:F1} s; two ranks: {ranks.Elapsed.TotalSeconds:F1} s");

            ranks.Output.Should().Contain("expert-parallel over 2 rank(s): 2 experts of every MoE layer per rank, 16 of the batch's 32 blocks per rank",
                "the run says how it is sharded:\n{0}", ranks);
            CountOf(ranks.Output, "final (2 batches per split)").Should().Be(1, "only rank 0 prints:\n{0}", ranks);
            File.Exists(Path.Combine(ranksOut, "checkpoint.rank0-of-2.bin")).Should().BeTrue();
            File.Exists(Path.Combine(ranksOut, "checkpoint.rank1-of-2.bin")).Should().BeTrue();
            File.Exists(Path.Combine(ranksOut, "checkpoint.bin")).Should().BeFalse("no rank holds every expert");
            File.Exists(Path.Combine(ranksOut, "loss.png")).Should().BeTrue();

            var one = Summary(aloneOut);
            var two = Summary(ranksOut);
            two.Ranks.Should().Be(2);
            one.Ranks.Should().Be(1);
            two.Parameters.Should().Be(one.Parameters, "the summary counts every rank's experts");
            // A run that learnt: the first step's loss is about ln 65 = 4.17 nats.
            one.LastStepLoss.Should().BeLessThan(3.5);
            // Measured on a 2-core machine: 7e-7 relative for the 10th step's loss; the estimates 2e-7 to 3e-7 at step 5,
            // 6e-7 (train) and 4e-5 (validation) at step 10, 1e-5 to 3e-5 for the final ones. The runs start equal (step 1:
            // identical to the last bit) and drift apart only by float32 rounding: matrix products over 16 rows instead of
            // 32 and the all-reduce's summation order round differently, and AdamW's first steps amplify relative
            // differences of tiny gradients. An estimate can move more than the weights because routing is discrete: one
            // token whose top-2 experts nearly tie and flip changes a 1024-token mean by about 1e-4 of its value. Hence
            // 1e-5 on the step loss and 2e-4 on the estimates, far below any real difference (a wrong shard, a missing
            // average or a doubled gradient moves the losses by 1e-2 or more).
            Relative(two.LastStepLoss, one.LastStepLoss).Should().BeLessThan(1e-5, "10th step loss {0} vs {1}", two.LastStepLoss, one.LastStepLoss);
            two.Estimates.Length.Should().Be(one.Estimates.Length).And.Be(6, "train and validation at steps 5 and 10, and the final estimate");
            for (var i = 0; i < one.Estimates.Length; i++)
                Relative(two.Estimates[i], one.Estimates[i]).Should().BeLessThan(2e-4, "estimate {0}: {1} vs {2}", i, two.Estimates[i], one.Estimates[i]);
            _output.WriteLine($"10th step loss: one process {one.LastStepLoss:R}, two ranks {two.LastStepLoss:R} (relative {Relative(two.LastStepLoss, one.LastStepLoss):G2}); " +
                $"largest relative difference of the estimates {one.Estimates.Zip(two.Estimates, (a, b) => Relative(b, a)).Max():G2}");
        }

        [Fact]
        public void OptionsExpertParallelismCannotTakeFailOnEveryRankNamingTheOption()
        {
            using var folder = new TemporaryFolder();
            var sample = MpiLauncher.TinyShakespeareAssembly();
            var common = new[] { "train", "--iterations", "1", "--out", folder.Path, "--overwrite" };

            var noisy = MpiLauncher.RunAssembly(2, sample, common.Append("--expert-parallel").ToArray(), Limit);
            noisy.ExitCode.Should().NotBe(0);
            CountOf(noisy.Output, "--expert-parallel cannot shard --router noisy-top-k (the presets' default)").Should().Be(2, "both ranks refuse:\n{0}", noisy);

            var unflagged = MpiLauncher.RunAssembly(2, sample, common.Concat(new[] { "--router", "top-k" }).ToArray(), Limit);
            unflagged.ExitCode.Should().NotBe(0);
            CountOf(unflagged.Output, "mpirun started 2 ranks but --expert-parallel was not given").Should().Be(2, "both ranks refuse:\n{0}", unflagged);

            var odd = MpiLauncher.RunAssembly(2, sample, common.Concat(new[] { "--expert-parallel", "--router", "top-k", "--batch-size", "31" }).ToArray(), Limit);
            odd.ExitCode.Should().NotBe(0);
            CountOf(odd.Output, "--batch-size 31 does not divide by the 2 ranks").Should().Be(2, "both ranks refuse:\n{0}", odd);

            var experts = MpiLauncher.RunAssembly(2, sample, common.Concat(new[] { "--expert-parallel", "--router", "top-k", "--experts", "3" }).ToArray(), Limit);
            experts.ExitCode.Should().NotBe(0);
            CountOf(experts.Output, "--experts 3 does not divide by the 2 ranks").Should().Be(2, "both ranks refuse:\n{0}", experts);
            File.Exists(Path.Combine(folder.Path, "summary.json")).Should().BeFalse("no run started");
        }

        private static int CountOf(string text, string part)
        {
            var count = 0;
            for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal)) count++;
            return count;
        }

        private static double Relative(double actual, double expected) => Math.Abs(actual - expected) / Math.Abs(expected);

        private static RunFigures Summary(string outFolder)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outFolder, "summary.json")));
            var root = json.RootElement;
            var estimates = new List<double>();
            foreach (var point in root.GetProperty("History").EnumerateArray())
            {
                estimates.Add(point.GetProperty("TrainLoss").GetDouble());
                estimates.Add(point.GetProperty("ValidationLoss").GetDouble());
            }
            estimates.Add(root.GetProperty("FinalTrainLoss").GetDouble());
            estimates.Add(root.GetProperty("FinalValidationLoss").GetDouble());
            return new RunFigures(root.GetProperty("LastStepLoss").GetDouble(), root.GetProperty("Ranks").GetInt32(), root.GetProperty("Parameters").GetInt64(),
                estimates.ToArray());
        }

        private sealed record RunFigures(double LastStepLoss, int Ranks, long Parameters, double[] Estimates);

        private sealed class TemporaryFolder : IDisposable
        {
            public TemporaryFolder()
            {
                Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "moelayers-ts-ep-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(Path);
            }

            public string Path { get; }

            public void Dispose()
            {
                try
                {
                    Directory.Delete(Path, recursive: true);
                }
                catch (IOException)
                {
                    // Left for the OS to clean.
                }
            }
        }
    }
}
