using System;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using FluentAssertions;
using Xunit.Abstractions;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>
    /// An expert-parallel MoeLayer (ExpertParallel.Create) under <c>mpirun -np 2</c> and <c>-np 3</c> (E = 2W, 4W): every rank compares its outputs, losses and gradients with a
    /// one-process MoeLayer it runs itself on the whole batch (tests/MoeLayers.Distributed.MpiScenarios/ExpertParallel.cs).
    /// </summary>
    [Collection("mpirun")]
    public sealed class ExpertParallelScenarioTests
    {
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
        private readonly ITestOutputHelper _output;

        public ExpertParallelScenarioTests(ITestOutputHelper output)
        {
            _output = output;
        }

        [Theory]
        [InlineData(2)]
        [InlineData(3)]
        public void TheRanksGiveTheOneProcessOutputsLossesAndGradientsDroplessAndWithCapacity(int ranks)
        {
            var run = Run(ranks, "ep-equivalence");
            run.ExitCode.Should().Be(0, "every rank must pass every comparison:\n{0}", run);
            for (var r = 0; r < ranks; r++)
            {
                var lines = run.Lines(r);
                lines.Should().NotContain(l => l.StartsWith("FAIL", StringComparison.Ordinal));
                var result = lines.SingleOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
                result.Should().NotBeNull("rank {0} prints its RESULT line:\n{1}", r, run);
                var match = Regex.Match(result!, @"^RESULT passed=(\d+) failed=(\d+)$");
                match.Success.Should().BeTrue();
                int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture).Should().BeGreaterThanOrEqualTo(208, "no comparison may silently drop out");
                match.Groups[2].Value.Should().Be("0");
                foreach (var name in new[] { "topk-softmax dropless", "topk-softmax cf=0.5 by-position", "topk-softmax cf=0.75 by-choice-then-position",
                             "deepseek sigmoid groups bias shared dropless", "deepseek sigmoid groups bias shared cf=0.6", "switch k=1 cf=1.0 with biases",
                             "llama4 sigmoid k=1 weighted inputs shared", "gpt-oss router bias clamped swiglu cf=0.75" })
                {
                    lines.Should().Contain(l => l.StartsWith($"ok   {name} step 1: gradient of experts.w_in", StringComparison.Ordinal), "case {0} ran", name);
                    lines.Should().Contain(l => l.StartsWith($"ok   {name} step 1: gradient of router.weight", StringComparison.Ordinal), "case {0} ran", name);
                }
                lines.Should().Contain(l => l.StartsWith("ok   topk-softmax cf=0.5 by-position step 0: capacity drops pairs", StringComparison.Ordinal));
                foreach (var name in new[] { "lora swiglu shared dropless", "lora swiglu shared trained router cf=0.5" })
                {
                    lines.Should().Contain(l => l.StartsWith($"ok   {name}: LoadAdapters took this rank's experts' rows", StringComparison.Ordinal));
                    foreach (var key in new[] { "experts.lora.a_in", "experts.lora.b_gate", "experts.lora.a_out", "shared_experts.lora.a_in" })
                        lines.Should().Contain(l => l.StartsWith($"ok   {name} step 1: gradient of {key}", StringComparison.Ordinal), "case {0} ran", name);
                    lines.Should().Contain(l => l.StartsWith($"ok   {name} step 1: experts.w_in is frozen and gets no gradient", StringComparison.Ordinal));
                }
                lines.Should().Contain(l => l.StartsWith("ok   lora swiglu shared trained router cf=0.5 step 1: gradient of router.weight", StringComparison.Ordinal));
                lines.Should().Contain(l => l.StartsWith("ok   lora swiglu shared dropless step 1: router.weight is frozen and gets no gradient", StringComparison.Ordinal));
                lines.Should().Contain(l => l.StartsWith("ok   uneven shares [", StringComparison.Ordinal) && l.Contains("step 1: gradient of experts.w_in", StringComparison.Ordinal));
                lines.Should().Contain(l => l.StartsWith("ok   a rank without tokens [", StringComparison.Ordinal) && l.Contains("step 1: gradient of router.weight", StringComparison.Ordinal));
                lines.Should().Contain(l => l.StartsWith("ok   deepseek sigmoid groups bias shared dropless step 1: balance bias after the step", StringComparison.Ordinal));
            }
        }

        [Fact]
        public void IndivisibleExpertsMismatchedOptionsAndMismatchedDTypesFailClearlyOnEveryRank()
        {
            var run = Run(2, "ep-bad");
            run.ExitCode.Should().Be(0, "every rank catches every error:\n{0}", run);
            for (var r = 0; r < 2; r++)
            {
                var lines = run.Lines(r);
                lines.Should().NotContain(l => l.StartsWith("FAIL", StringComparison.Ordinal));
                lines.Should().Contain(l => l.Contains("OK indivisible: ArgumentException: ExpertParallel.Create: NumExperts = 3 does not divide by the world size 2", StringComparison.Ordinal));
                lines.Should().Contain(l => l.StartsWith("OK options: CommunicatorMismatchException: ExpertParallel.Create: the ranks were given different MoeLayerOptions: " +
                    "CapacityFactor (rank 0: null; rank 1: 1.25); TopK (rank 0: 2; rank 1: 1).", StringComparison.Ordinal));
                lines.Should().Contain(l => l.Contains("OK dtype: CommunicatorMismatchException: AllToAll: the ranks' arguments do not agree: rank 0: float64 rows [*, 8]; rank 1: float32 rows [*, 8].", StringComparison.Ordinal));
                lines.Should().Contain("OK usable: a forward after the mismatch gave [6, 8]");
                lines.Should().Contain("finished");
            }
        }

        [Fact]
        public void ARankThatDiesBetweenForwardAndBackwardMakesTheOtherEndTheJobWithTheTimeoutError()
        {
            var run = Run(2, "ep-dead", mpirunOptions: new[] { "--enable-recovery" }, scenarioArguments: new[] { "--timeout", "5" });
            run.Lines(1).Should().Contain("dying abruptly (SIGKILL) before the backward exchange");
            run.Lines(0).Should().Contain("backward without the dead rank");
            run.Output.Should().Contain("MoeLayers.Distributed: the backward all-to-all of an expert-parallel MoE layer failed on rank 0 of 2; " +
                "an exception cannot leave a backward pass, so the process ends. CommunicatorTimeoutException: MPI rank 0 of 2: AllToAll #")
                .And.Contain("did not complete within 5 s");
            run.Output.Should().Contain("MoeLayers.Distributed: rank 0 of 2 aborts the MPI job (MPI_Abort, error code 1)");
            run.Lines(0).Should().NotContain("FAIL: backward completed without the dead rank");
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60));
        }

        [Fact]
        public void ARankThatDiesBeforeAForwardMakesTheOtherThrowTheTimeoutFromRun()
        {
            var run = Run(2, "ep-dead", mpirunOptions: new[] { "--enable-recovery" }, scenarioArguments: new[] { "--in-forward", "--timeout", "5" });
            run.Lines(1).Should().Contain("dying abruptly (SIGKILL) before the forward");
            var timeout = run.Lines(0).SingleOrDefault(l => l.StartsWith("TIMEOUT as expected after ", StringComparison.Ordinal));
            timeout.Should().NotBeNull("rank 0's Run must throw the timeout:\n{0}", run);
            timeout.Should().Contain("MPI rank 0 of 2: AllGatherBytes").And.Contain("did not complete within 5 s").And.Contain("at least one other rank never joined it");
            var waited = double.Parse(Regex.Match(timeout!, @"after ([0-9.]+) s").Groups[1].Value, CultureInfo.InvariantCulture);
            waited.Should().BeInRange(4.9, 15, "the deadline is 5 s");
            run.Output.Should().Contain("MoeLayers.Distributed: rank 0 of 2 aborts the MPI job (MPI_Abort, error code 1)");
            run.Lines(0).Should().NotContain(l => l.StartsWith("FAIL", StringComparison.Ordinal));
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60));
        }

        private MpiRun Run(int ranks, string scenario, string[]? mpirunOptions = null, string[]? scenarioArguments = null)
        {
            var run = MpiLauncher.Run(ranks, scenario, Limit, mpirunOptions, scenarioArguments);
            _output.WriteLine(run.ToString());
            return run;
        }
    }
}
