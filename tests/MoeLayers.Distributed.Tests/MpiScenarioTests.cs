using System;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using FluentAssertions;
using Xunit.Abstractions;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>The MPI jobs run one at a time: they share the machine's cores and time their barriers and timeouts.</summary>
    [CollectionDefinition("mpirun", DisableParallelization = true)]
    public sealed class MpirunCollection
    {
    }

    /// <summary>
    /// Real MPI jobs: <c>mpirun -np N</c> runs the scenario program (tests/MoeLayers.Distributed.MpiScenarios), whose ranks
    /// compute their expected values independently; these tests assert on exit codes and on what every rank printed.
    /// </summary>
    [Collection("mpirun")]
    public sealed class MpiScenarioTests
    {
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
        private readonly ITestOutputHelper _output;

        public MpiScenarioTests(ITestOutputHelper output)
        {
            _output = output;
        }

        [Theory]
        [InlineData(2)]
        [InlineData(3)]
        public void EveryCollectiveMatchesTheValuesEachRankComputesOnItsOwn(int ranks)
        {
            var run = Run(ranks, "collectives");
            run.ExitCode.Should().Be(0, "every rank must pass every check:\n{0}", run);
            var results = Enumerable.Range(0, ranks).Select(r => run.Lines(r).SingleOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))).ToArray();
            results.Should().OnlyContain(r => r != null, "every rank prints its RESULT line:\n{0}", run);
            results.Distinct().Should().ContainSingle("the ranks ran the same checks:\n{0}", run);
            var match = Regex.Match(results[0]!, @"^RESULT passed=(\d+) failed=(\d+)$");
            match.Success.Should().BeTrue();
            int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture).Should().BeGreaterThanOrEqualTo(56, "no check may silently drop out");
            match.Groups[2].Value.Should().Be("0");
            for (var r = 0; r < ranks; r++)
                run.Lines(r).Should().NotContain(l => l.StartsWith("FAIL", StringComparison.Ordinal));
            for (var r = 0; r < ranks; r++)
            {
                run.Lines(r).Should().Contain("finalized", "rank {0} must leave through MPI_Finalize", r);
                run.Lines(r).Should().Contain(l => l.StartsWith("world " + ranks + ", Open MPI v", StringComparison.Ordinal));
            }
            // The dtype mismatch reaches every rank with the same words, naming the odd rank.
            var odd = ranks - 1;
            var expected = $"AllToAll: the ranks' arguments do not agree: {(ranks == 2 ? "rank 0" : "ranks 0, 1")}: float32 rows [*, 4]; rank {odd}: int64 rows [*, 4].";
            for (var r = 0; r < ranks; r++)
                run.Lines(r).Should().Contain(l => l.Contains(expected, StringComparison.Ordinal), "rank {0} reports the mismatch", r);
        }

        [Fact]
        public void ARankThatDiesMidJobMakesTheSurvivorFailWithTheTimeoutErrorInsteadOfHanging()
        {
            // --enable-recovery keeps mpirun from ending the job when rank 1 dies, which is the case a timeout is for.
            var run = Run(2, "dead-rank", mpirunOptions: new[] { "--enable-recovery" }, scenarioArguments: new[] { "--timeout", "5" });
            var survivor = run.Lines(0);
            run.Lines(1).Should().Contain("dying abruptly (SIGKILL) before the all-to-all");
            var timeout = survivor.SingleOrDefault(l => l.StartsWith("TIMEOUT as expected after ", StringComparison.Ordinal));
            timeout.Should().NotBeNull("rank 0 must fail with the timeout error:\n{0}", run);
            timeout.Should().Contain("MPI rank 0 of 2: AllToAll #2 (count exchange) did not complete within 5 s")
                .And.Contain("at least one other rank never joined it")
                .And.Contain("MOELAYERS_MPI_TIMEOUT_SECONDS");
            var waited = double.Parse(Regex.Match(timeout!, @"after ([0-9.]+) s").Groups[1].Value, CultureInfo.InvariantCulture);
            waited.Should().BeInRange(4.9, 15, "the deadline is 5 s");
            survivor.Should().Contain(l => l.StartsWith("faulted as expected: This MpiCommunicator is faulted", StringComparison.Ordinal));
            run.Output.Should().Contain("MoeLayers.Distributed: rank 0 of 2 aborts the MPI job (MPI_Abort, error code 1)");
            survivor.Should().NotContain("FAIL: MPI_Abort returned");
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60));
        }

        [Fact]
        public void ARankThatDiesUnderPlainMpirunEndsTheWholeJobAtOnce()
        {
            // What a user sees without --enable-recovery: mpirun notices the death and kills the other ranks itself.
            var run = Run(2, "dead-rank", scenarioArguments: new[] { "--timeout", "60" });
            run.Lines(1).Should().Contain("dying abruptly (SIGKILL) before the all-to-all");
            // mpirun exits with 128 + 9 and usually says "mpirun noticed that process rank 1 ... exited on signal 9
            // (Killed)" (a notice Open MPI 4.1 occasionally fails to print).
            run.ExitCode.Should().Be(137, "mpirun reports the killed rank:\n{0}", run);
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(45), "mpirun ends the job long before rank 0's 60 s timeout:\n{0}", run);
            run.Lines(0).Should().NotContain(l => l.StartsWith("TIMEOUT", StringComparison.Ordinal));
        }

        [Fact]
        public void ARankThatIsStuckMakesTheOthersTimeOutAndAbortTheJob()
        {
            // Rank 1 sleeps 125 s without joining; rank 0 gives up after 5 s and MPI_Abort ends rank 1 too.
            var run = Run(2, "stuck-rank", scenarioArguments: new[] { "--timeout", "5" });
            run.Lines(0).Should().Contain(l => l.StartsWith("TIMEOUT as expected after ", StringComparison.Ordinal) && l.Contains("did not complete within 5 s"),
                "rank 0 must time out:\n{0}", run);
            // Our own line, not mpirun's "MPI_ABORT was invoked ..." notice: Open MPI 4.1 sometimes loses that one
            // ("ORTE_ERROR_LOG: Out of resource in file ../../../orte/util/show_help.c").
            run.Output.Should().Contain("MoeLayers.Distributed: rank 0 of 2 aborts the MPI job (MPI_Abort, error code 1) because its communicator is faulted: " +
                                        "AllToAll #2 (count exchange) timed out after 5 s");
            run.ExitCode.Should().Be(1, "MPI_Abort's error code becomes mpirun's exit code:\n{0}", run);
            run.Lines(1).Should().NotContain("woke up: the job should have been aborted long ago");
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60), "the job must end at the timeout, not when rank 1 wakes up");
        }

        [Fact]
        public void RanksThatFinishWhileAnotherIsStuckAbortInsteadOfHangingInMpiFinalize()
        {
            var run = Run(2, "leave-early", scenarioArguments: new[] { "--timeout", "5" });
            run.Lines(1).Should().Contain("done: disposing while rank 0 is stuck");
            run.Output.Should().Contain("MoeLayers.Distributed: rank 1 of 2 aborts the MPI job (MPI_Abort, error code 1) because its communicator is faulted: " +
                                        "Dispose (barrier before MPI_Finalize) #2 timed out after 5 s", "rank 1 must give up on rank 0:\n{0}", run);
            run.Lines(0).Concat(run.Lines(1)).Should().NotContain(l => l.StartsWith("FAIL", StringComparison.Ordinal));
            run.ExitCode.Should().Be(1, "MPI_Abort's error code becomes mpirun's exit code:\n{0}", run);
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60), "the job must end at the timeout, not when rank 0 wakes up");
        }

        [Fact]
        public void ARankThatStartsLateEndsTheOthersAtTheConnectTimeoutWithAMessageInsteadOfAHangInMpiInit()
        {
            // Open MPI's MPI_Init waits for every rank; rank 1 arrives after 20 s, rank 0's watchdog gives up after 3 s.
            var run = Run(2, "late-start", scenarioArguments: new[] { "--connect-timeout", "3" });
            run.Lines(1).Should().Contain("starting 20 s late");
            run.Output.Should().Contain("MoeLayers.Distributed: MPI_Init did not return within 3 s (MpiCommunicatorOptions.ConnectTimeout, else Timeout) on rank 0 of 2")
                .And.Contain("at least one has not called MPI_Init");
            run.Output.Should().NotContain("FAIL: constructed");
            run.ExitCode.Should().Be(134, "Environment.FailFast aborts the process (SIGABRT) and mpirun passes that on:\n{0}", run);
            run.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(18), "the job must end at the connect timeout, not when rank 1 arrives");
        }

        private MpiRun Run(int ranks, string scenario, string[]? mpirunOptions = null, string[]? scenarioArguments = null)
        {
            var run = MpiLauncher.Run(ranks, scenario, Limit, mpirunOptions, scenarioArguments);
            _output.WriteLine(run.ToString());
            return run;
        }
    }
}
