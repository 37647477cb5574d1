using System;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// The one grouped-matmul chooser of both devices, with fake runners on CPU tensors: which runner serves which rows,
    /// the per-call fallback to per-expert products when a library call fails, and the reasons reported once per
    /// distinct cause and instance through the "MoeLayers" event source.
    /// </summary>
    public class LibraryGroupedMatmulTests
    {
        private static readonly long[] Uneven = { 3, 0, 4 };

        [Fact]
        public void AFailedCallRunsPerExpertForThatCallOnlyAndARepeatedCauseIsReportedOnce()
        {
            var (x, w, _) = GroupedProjection.Operands(Uneven, 8, 6, false, ScalarType.Float64, seed: 7);
            var (rows, weights) = (x.detach(), w.detach());
            var expected = LibraryGroupedMatmul.PerExpert.Multiply(rows, Uneven, weights);
            using var events = new MoeLayersEventCapture();
            var gemm = new EmulatedGroupedGemm { FailCall = call => call % 2 == 1 };
            var matmul = new LibraryGroupedMatmul(gemm);

            var first = matmul.Multiply(rows, Uneven, weights);
            gemm.Runs.Should().Be(1);
            TensorAssert.Values(first).Should().Equal(TensorAssert.Values(expected), "the failed call's products ran per expert");

            var second = matmul.Multiply(rows, Uneven, weights);
            gemm.Runs.Should().Be(2, "the call after a failure tries the library again");
            TensorAssert.Close(second, expected, 1e-12, "the library's products");

            TensorAssert.Values(matmul.Multiply(rows, Uneven, weights)).Should().Equal(TensorAssert.Values(expected), "the third call failed too");
            gemm.Runs.Should().Be(3);
            matmul.WhyPerExpert(rows, Uneven, weights).Should().BeNull("a failure switches nothing off");

            var failure = events.From(gemm.Name).Should().ContainSingle("the same failure is reported once").Subject;
            failure.Id.Should().Be(MoeLayersEventSource.LibraryCallFailedId);
            failure.Name.Should().Be("LibraryCallFailed");
            failure.Level.Should().Be(EventLevel.Warning);
            failure["exceptionType"].Should().Be(typeof(InvalidOperationException).FullName);
            failure["exceptionMessage"].Should().Be(EmulatedGroupedGemm.FailureMessage);
        }

        [Theory]
        [InlineData(nameof(GroupedGemmPass.Forward))]
        [InlineData(nameof(GroupedGemmPass.GradInput))]
        [InlineData(nameof(GroupedGemmPass.GradWeight))]
        public void AFailedCallInForwardOrBackwardGivesThePerExpertValuesAndGradients(string failingPass)
        {
            var failing = Enum.Parse<GroupedGemmPass>(failingPass);
            var (x, w, b) = GroupedProjection.Operands(Uneven, 8, 6, true, ScalarType.Float64, seed: 7);
            using var events = new MoeLayersEventCapture();
            var gemm = new EmulatedGroupedGemm { FailOn = failing };
            var matmul = new LibraryGroupedMatmul(gemm);

            var expected = GroupedProjection.Run(LibraryGroupedMatmul.PerExpert, x, Uneven, w, b);
            var actual = GroupedProjection.Run(matmul, x, Uneven, w, b);
            for (var i = 0; i < expected.Length; i++) TensorAssert.Close(actual[i], expected[i], 1e-12, $"tensor #{i}");
            gemm.Runs.Should().Be(3, "each pass tried the library once");

            GroupedProjection.Run(matmul, x, Uneven, w, b);
            gemm.Runs.Should().Be(6, "the next step tries every pass again");
            events.From(gemm.Name).Should().ContainSingle().Which["exceptionMessage"].Should().Be(EmulatedGroupedGemm.FailureMessage);
        }

        [Fact]
        public void EachReasonForThePerExpertProductsIsReportedOncePerInstance()
        {
            const string noEntryPoint = "libcublas.so.12 has no cublasGemmGroupedBatchedEx.";
            const string misaligned = "rows of d = 3 float16 elements are not multiples of 16 bytes.";
            var (x, w, _) = GroupedProjection.Operands(new long[] { 2, 3 }, 4, 4, false, ScalarType.Float32, seed: 4);
            long[] counts = { 2, 3 };
            using var events = new MoeLayersEventCapture();
            var gemm = new EmulatedGroupedGemm { Missing = noEntryPoint };
            var matmul = new LibraryGroupedMatmul(gemm);

            var first = matmul.Multiply(x, counts, w);
            matmul.Multiply(x, counts, w);
            gemm.Missing = misaligned;
            matmul.Multiply(x, counts, w);
            new LibraryGroupedMatmul(gemm).Multiply(x, counts, w);

            var reported = events.From(gemm.Name);
            reported.Select(e => e["reason"]).Should().Equal(new[] { noEntryPoint, misaligned, misaligned }, "each instance says each reason once");
            reported.Should().OnlyContain(e => e.Id == MoeLayersEventSource.ExpertProductsFallbackId && e.Level == EventLevel.Warning);
            gemm.Runs.Should().Be(0);
            TensorAssert.Values(first).Should().Equal(TensorAssert.Values(LibraryGroupedMatmul.PerExpert.Multiply(x, counts, w)));
        }

        [Fact]
        public void AReasonMetWhileNobodyListensIsReportedToTheFirstListener()
        {
            var (x, w, _) = GroupedProjection.Operands(new long[] { 2, 3 }, 4, 4, false, ScalarType.Float32, seed: 4);
            var gemm = new EmulatedGroupedGemm { Missing = "no library here." };
            var matmul = new LibraryGroupedMatmul(gemm);
            var unobserved = !MoeLayersEventSource.Log.IsEnabled();
            matmul.Multiply(x, new long[] { 2, 3 }, w);

            using var events = new MoeLayersEventCapture();
            matmul.Multiply(x, new long[] { 2, 3 }, w);
            matmul.Multiply(x, new long[] { 2, 3 }, w);
            if (unobserved) events.From(gemm.Name).Should().ContainSingle().Which["reason"].Should().Be("no library here.");
        }

        [Fact]
        public void EachRunnersSwitchVariableTurnsItOff()
        {
            var gemm = new EmulatedGroupedGemm { SwitchVariable = $"MOELAYERS_TEST_GROUPED_GEMM_{Guid.NewGuid():N}" };
            var matmul = new LibraryGroupedMatmul(gemm);
            var (x, w, _) = GroupedProjection.Operands(new long[] { 1, 1 }, 4, 4, false, ScalarType.Float32, seed: 6);
            using var events = new MoeLayersEventCapture();
            try
            {
                Environment.SetEnvironmentVariable(gemm.SwitchVariable, "0");
                matmul.WhyPerExpert(x, new long[] { 1, 1 }, w).Should().Be($"{gemm.SwitchVariable}=0.");
                matmul.Multiply(x, new long[] { 1, 1 }, w);
                gemm.Runs.Should().Be(0);
            }
            finally
            {
                Environment.SetEnvironmentVariable(gemm.SwitchVariable, null);
            }
            matmul.WhyPerExpert(x, new long[] { 1, 1 }, w).Should().BeNull("read on every call");
            events.From(gemm.Name).Should().ContainSingle().Which["reason"].Should().Be($"{gemm.SwitchVariable}=0.");
        }

        [Fact]
        public void TheRunnerThatServesTheRowsDeviceRunsThemAndNoOtherIsAsked()
        {
            var servesNothing = new RecordingRunner(null);
            var cuda = new RecordingRunner(DeviceType.CUDA);
            var cpu = new EmulatedGroupedGemm();
            var matmul = new LibraryGroupedMatmul(servesNothing, cuda, cpu);
            matmul.RunnerFor(CPU).Should().BeSameAs(cpu);
            matmul.RunnerFor(new Device(DeviceType.CUDA, 0)).Should().BeSameAs(cuda);

            var (x, w, b) = GroupedProjection.Operands(Uneven, 5, 4, true, ScalarType.Float64, seed: 3);
            var expected = GroupedProjection.Run(LibraryGroupedMatmul.PerExpert, x, Uneven, w, b);
            var actual = GroupedProjection.Run(matmul, x, Uneven, w, b);
            for (var i = 0; i < expected.Length; i++) TensorAssert.Close(actual[i], expected[i], 1e-12, $"tensor #{i}");
            matmul.Batches(CPU, ScalarType.Float64, Uneven).Should().BeFalse("the CPU runner says so");

            cpu.Runs.Should().Be(3, "the CPU rows ran on the CPU runner");
            servesNothing.Calls.Should().Be(0, "a runner that serves no device is never called");
            cuda.Calls.Should().Be(0, "the CUDA runner is not asked about CPU rows");
        }

        [Fact]
        public void RowsNoRunnerServesRunPerExpertWithoutAWord()
        {
            var cuda = new RecordingRunner(DeviceType.CUDA);
            var matmul = new LibraryGroupedMatmul(cuda);
            var (x, w, _) = GroupedProjection.Operands(Uneven, 4, 4, false, ScalarType.Float32, seed: 5);
            using var events = new MoeLayersEventCapture();

            matmul.WhyPerExpert(x, Uneven, w).Should().Be("no grouped GEMM runner serves cpu.");
            matmul.Products(x, Uneven, w).UsesLibrary.Should().BeFalse();
            TensorAssert.Values(matmul.Multiply(x, Uneven, w)).Should().Equal(TensorAssert.Values(LibraryGroupedMatmul.PerExpert.Multiply(x, Uneven, w)));
            matmul.Batches(CPU, ScalarType.Float32, Uneven).Should().BeFalse();
            cuda.Calls.Should().Be(0);
            events.From(cuda.Name).Should().BeEmpty();
        }

        [Fact]
        public void ARunnerIsRegisteredOnceAfterTheOthers()
        {
            var (first, second) = (new EmulatedGroupedGemm(), new RecordingRunner(DeviceType.CUDA));
            var matmul = new LibraryGroupedMatmul(first);
            matmul.Register(second);
            matmul.Register(first);
            matmul.Register(second);
            matmul.Runners.Should().Equal(first, second);
            matmul.Invoking(m => m.Register(null!)).Should().Throw<ArgumentNullException>();
        }

        [Fact]
        public void ShapesThatDoNotFitAreRefusedBeforeAnyProduct()
        {
            var (x, w, _) = GroupedProjection.Operands(new long[] { 2, 2 }, 4, 3, false, ScalarType.Float32, seed: 1);
            var gemm = new EmulatedGroupedGemm();
            var matmul = new LibraryGroupedMatmul(gemm);
            matmul.Invoking(m => m.Multiply(x, new long[] { 2, 1 }, w)).Should().Throw<ArgumentException>().WithMessage("*sum to 3 but there are 4 rows*");
            matmul.Invoking(m => m.Multiply(x, new long[] { 4 }, w)).Should().Throw<ArgumentException>().WithMessage("*1 counts and weights [E, d, h]*");
            matmul.Invoking(m => m.Multiply(x, new long[] { 2, 2 }, w, zeros(2, 4))).Should().Throw<ArgumentException>().WithMessage("*bias must be [E, h] = [2, 3]*");
            gemm.Checks.Should().Be(0);
            gemm.Runs.Should().Be(0);
        }

        /// <summary>A runner for one device type (or none) that counts every question but <see cref="Serves"/> and cannot run.</summary>
        private sealed class RecordingRunner : IGroupedGemmRunner
        {
            private readonly DeviceType? _serves;

            public RecordingRunner(DeviceType? serves) => _serves = serves;

            public int Calls { get; private set; }

            public string Name { get; } = $"recording runner {Guid.NewGuid():N}";

            public string SwitchVariable => "MOELAYERS_TEST_RECORDING_GROUPED_GEMM";

            public bool Serves(Device device) => device.type == _serves;

            public string? Unavailable(Tensor rows, long[] counts, Tensor weights) => Count<string?>("not here.");

            public bool PaysFor(long[] counts) => Count(true);

            public bool BeatsPaddedBuffer(ScalarType dtype) => Count(true);

            public void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c) =>
                throw new InvalidOperationException($"{Name} was asked to run (call {Count(Calls)}).");

            private T Count<T>(T answer)
            {
                Calls++;
                return answer;
            }
        }
    }
}
