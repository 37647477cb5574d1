using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// The CPU grouped GEMM (MKL's cblas_?gemm_batch from libtorch_cpu) against the per-expert products, in outputs and in
    /// the gradients of rows, weights and bias, and its choice of the per-expert products where it does not apply.
    /// </summary>
    public class MklGroupedGemmTests
    {
        /// <summary>TorchSharp-cpu 0.107's libtorch_cpu for linux-x64 exports the batch entry points (measured).</summary>
        public static bool MklExpected =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RuntimeInformation.ProcessArchitecture == Architecture.X64;

        public static TheoryData<string, long[]> Groups() => new()
        {
            { "uneven", new long[] { 5, 1, 9, 3 } },
            { "empty experts", new long[] { 0, 4, 0, 0, 7, 0 } },
            { "one expert", new long[] { 6 } },
            { "all empty", new long[] { 0, 0, 0 } },
            { "one row each", new long[] { 1, 1, 1, 1, 1 } },
        };

        [Fact]
        public void TheEntryPointsResolveFromTorchSharpsLibtorch()
        {
            if (!MklExpected) return;
            MklGroupedGemm.Describe().Should().NotStartWith("unavailable").And.Contain("torch_cpu");
        }

        [Theory]
        [MemberData(nameof(Groups))]
        public void Float64MatchesPerExpertProductsInOutputsAndGradients(string name, long[] counts) =>
            Compare(counts, ScalarType.Float64, 1e-10, name);

        [Theory]
        [MemberData(nameof(Groups))]
        public void Float32MatchesPerExpertProductsInOutputsAndGradients(string name, long[] counts) =>
            Compare(counts, ScalarType.Float32, 1e-5, name);

        [Fact]
        public void NonContiguousOperandsTakeThePerExpertProductsAndSaySoOnce()
        {
            using var events = new MoeLayersEventCapture();
            var matmul = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            long[] counts = { 2, 3 };
            var generator = new Generator(7);
            var weights = randn(new long[] { 2, 4, 6 }, ScalarType.Float64, generator: generator);
            var transposed = randn(new long[] { 4, 5 }, ScalarType.Float64, generator: generator).t();
            matmul.WhyPerExpert(transposed, counts, weights).Should().Contain("not contiguous");
            TensorAssert.Close(matmul.Multiply(transposed, counts, weights), LibraryGroupedMatmul.PerExpert.Multiply(transposed, counts, weights), 1e-12);
            matmul.Multiply(transposed, counts, weights);

            var reason = events.From(MklGroupedGemm.Instance.Name).Should().ContainSingle("each reason is said once").Which["reason"];
            reason.Should().Contain("not contiguous");
        }

        [Fact]
        public void TheSwitchVariableForcesThePerExpertProducts()
        {
            var matmul = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            var rows = ones(3, 2, ScalarType.Float64);
            var weights = ones(2, 2, 4, ScalarType.Float64);
            var switchVariable = MklGroupedGemm.Instance.SwitchVariable;
            var before = Environment.GetEnvironmentVariable(switchVariable);
            try
            {
                Environment.SetEnvironmentVariable(switchVariable, "0");
                matmul.WhyPerExpert(rows, new long[] { 1, 2 }, weights).Should().Be("MOELAYERS_CPU_GROUPED_GEMM=0.");
            }
            finally
            {
                Environment.SetEnvironmentVariable(switchVariable, before);
            }
            if (MklExpected) matmul.WhyPerExpert(rows, new long[] { 1, 2 }, weights).Should().BeNull();
        }

        private static void Compare(long[] counts, ScalarType dtype, double tolerance, string name)
        {
            const int d = 7, h = 5;
            using var events = new MoeLayersEventCapture();
            var mkl = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            foreach (var withBias in new[] { false, true })
            {
                var (expected, expectedGrads) = Run(LibraryGroupedMatmul.PerExpert, counts, d, h, dtype, withBias);
                var (actual, actualGrads) = Run(mkl, counts, d, h, dtype, withBias);
                Close(actual, expected, tolerance, $"{name}: output");
                for (var i = 0; i < expectedGrads.Length; i++)
                    Close(actualGrads[i], expectedGrads[i], tolerance, $"{name}, bias {withBias}: gradient #{i}");
            }
            if (MklExpected) events.From(MklGroupedGemm.Instance.Name).Should().BeEmpty();
        }

        [Theory]
        [InlineData(new long[] { 1, 0, 2, 1 }, false)]
        [InlineData(new long[] { 0, 0 }, false)]
        [InlineData(new long[] { 3, 0, 1 }, true)]
        public void GroupsOfAtMostTwoRowsRunAsPerExpertProducts(long[] counts, bool batched)
        {
            MklGroupedGemm.Instance.PaysFor(counts).Should().Be(batched);
            var runner = new CountingRunner(MklGroupedGemm.Instance);
            var products = GroupedProducts.Library(runner, e => throw e);
            var generator = new Generator(5);
            var m = counts.Sum();
            var rows = randn(new[] { m, 4L }, ScalarType.Float64, generator: generator);
            var weights = randn(new[] { (long)counts.Length, 4, 3 }, ScalarType.Float64, generator: generator);
            var upstream = randn(new[] { m, 3L }, ScalarType.Float64, generator: generator);
            var expected = new[]
            {
                GroupedProducts.PerExpert.Multiply(rows, counts, weights), GroupedProducts.PerExpert.MultiplyTransposed(upstream, counts, weights),
                GroupedProducts.PerExpert.WeightGradient(rows, upstream, counts),
            };
            var actual = new[]
            {
                products.Multiply(rows, counts, weights), products.MultiplyTransposed(upstream, counts, weights), products.WeightGradient(rows, upstream, counts),
            };
            for (var i = 0; i < 3; i++) Close(actual[i], expected[i], 1e-12, $"product {i}");
            if (MklExpected) runner.Calls.Should().Be(batched ? 3 : 0);
        }

        [Fact]
        public void PerExpertWeightGradientsAreZeroForExpertsWithoutRows()
        {
            var rows = ones(3, 2, ScalarType.Float64);
            var upstream = ones(3, 4, ScalarType.Float64);
            var gradient = GroupedProducts.PerExpert.WeightGradient(rows, upstream, new long[] { 0, 3, 0 });
            gradient.shape.Should().Equal(3, 2, 4);
            TensorAssert.Close(gradient[0], zeros(2, 4, ScalarType.Float64), 0);
            TensorAssert.Close(gradient[1], full(2, 4, 3.0, ScalarType.Float64), 0);
            TensorAssert.Close(gradient[2], zeros(2, 4, ScalarType.Float64), 0);
        }

        private sealed class CountingRunner : IGroupedGemmRunner
        {
            private readonly IGroupedGemmRunner _inner;

            public CountingRunner(IGroupedGemmRunner inner) => _inner = inner;

            public int Calls { get; private set; }

            public bool Serves(Device device) => _inner.Serves(device);

            public string? Unavailable(Tensor rows, long[] counts, Tensor weights) => _inner.Unavailable(rows, counts, weights);

            public bool PaysFor(long[] counts) => _inner.PaysFor(counts);

            public string Name => _inner.Name;

            public string SwitchVariable => _inner.SwitchVariable;

            public bool BeatsPaddedBuffer(ScalarType dtype) => _inner.BeatsPaddedBuffer(dtype);

            public void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c)
            {
                Calls++;
                _inner.Run(problems, a, b, c);
            }
        }

        private static void Close(Tensor actual, Tensor expected, double tolerance, string because)
        {
            actual.shape.Should().Equal(expected.shape, because);
            if (expected.numel() > 0) TensorAssert.Close(actual, expected, tolerance, because);
        }

        private static (Tensor Output, Tensor[] Grads) Run(IGroupedMatmul matmul, long[] counts, int d, int h, ScalarType dtype, bool withBias)
        {
            var experts = counts.Length;
            var m = 0L;
            foreach (var c in counts) m += c;
            var generator = new Generator(42);
            var rows = randn(new[] { m, d }, dtype, generator: generator).requires_grad_(true);
            var weights = randn(new long[] { experts, d, h }, dtype, generator: generator).requires_grad_(true);
            var bias = randn(new long[] { experts, h }, dtype, generator: generator).requires_grad_(true);
            var upstream = randn(new[] { m, h }, dtype, generator: generator);
            var output = matmul.Multiply(rows, counts, weights, withBias ? bias : null);
            (output * upstream).sum().backward();
            var grads = new List<Tensor> { rows.grad ?? zeros_like(rows), weights.grad ?? zeros_like(weights) };
            if (withBias) grads.Add(bias.grad ?? zeros_like(bias));
            return (output.detach(), grads.ToArray());
        }
    }
}
