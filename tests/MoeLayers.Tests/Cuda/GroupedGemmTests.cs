using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// The grouped GEMM without a GPU: the cuBLAS problems of each pass (shapes, transposes, leading dimensions, offsets),
    /// the call's argument arrays and pointers, the whole autograd function run by an emulation of cuBLAS's column-major
    /// semantics on CPU tensors against the per-expert products, and the choice between grouped GEMM and per-expert
    /// products with its once-per-reason message.
    /// </summary>
    public class GroupedGemmTests
    {
        [Fact]
        public void EachPassReadsRowMajorOperandsAsTheirColumnMajorTransposes()
        {
            long[] counts = { 3, 0, 2 };
            const int d = 4, h = 5;
            // Yᵀ (h × m) = Wᵀ · Xᵀ; expert 1 has no rows and no problem; offsets in elements.
            GroupedGemmPlan.Build(GroupedGemmPass.Forward, counts, d, h).Should().Equal(
                new GemmProblem(false, false, h, 3, d, h, d, h, 0, 0, 0),
                new GemmProblem(false, false, h, 2, d, h, d, h, 2 * d * h, 3 * d, 3 * h));
            // dXᵀ (d × m) = W · dYᵀ.
            GroupedGemmPlan.Build(GroupedGemmPass.GradInput, counts, d, h).Should().Equal(
                new GemmProblem(true, false, d, 3, h, h, h, d, 0, 0, 0),
                new GemmProblem(true, false, d, 2, h, h, h, d, 2 * d * h, 3 * h, 3 * d));
            // dWᵀ (h × d) = dYᵀ · X.
            GroupedGemmPlan.Build(GroupedGemmPass.GradWeight, counts, d, h).Should().Equal(
                new GemmProblem(false, true, h, d, 3, h, d, h, 0, 0, 0),
                new GemmProblem(false, true, h, d, 2, h, d, h, 3 * h, 3 * d, 2 * d * h));
            GroupedGemmPlan.Build(GroupedGemmPass.Forward, new long[] { 0, 0 }, d, h).Should().BeEmpty();
            var act = () => GroupedGemmPlan.Build(GroupedGemmPass.Forward, new long[] { 1L << 31 }, d, h);
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*group 0 has 2147483648 rows*");
        }

        [Fact]
        public void TheCallsHostArraysAndDevicePointersFollowThePlan()
        {
            var problems = GroupedGemmPlan.Build(GroupedGemmPass.GradInput, new long[] { 3, 0, 2 }, 4, 8);
            var (ints, scales) = CublasApi.Arguments(problems);
            ints.Should().Equal(
                CublasApi.OpT, CublasApi.OpT, // transa
                CublasApi.OpN, CublasApi.OpN, // transb
                4, 4, // m
                3, 2, // n
                8, 8, // k
                8, 8, // lda
                8, 8, // ldb
                4, 4, // ldc
                1, 1); // group sizes
            scales.Should().Equal(1f, 1f, 0f, 0f);

            var pointers = GroupedGemmPlan.Pointers(problems, 0x1000, 0x2000, 0x3000, 2);
            pointers.Should().Equal(0x1000, 0x1000 + 2 * 4 * 8 * 2, 0x2000, 0x2000 + 3 * 8 * 2, 0x3000, 0x3000 + 3 * 4 * 2);
            GroupedGemmPlan.Aligned(pointers, 16).Should().BeFalse("the second dX starts 24 bytes in");
            GroupedGemmPlan.Aligned(GroupedGemmPlan.Pointers(problems, 0x1000, 0x2000, 0x3000, 4), 16).Should().BeTrue();
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void TheGroupedFunctionMatchesPerExpertProductsInValuesAndGradients(bool bias)
        {
            long[] counts = { 5, 0, 7, 1 };
            var (x, w, b) = Operands(counts, 6, 3, bias, ScalarType.Float64, seed: 2);
            var log = new List<string>();
            var grouped = new CudaGroupedMatmul(new EmulatedGroupedGemm(), log.Add);
            grouped.WhyPerExpert(x, counts, w).Should().BeNull();

            var expected = Run(PerExpertMatmul.Instance, x, counts, w, b);
            var actual = Run(grouped, x, counts, w, b);
            for (var i = 0; i < expected.Length; i++) TensorAssert.Close(actual[i], expected[i], 1e-12, $"tensor #{i}");
            TensorAssert.Values(actual[2].select(0, 1)).Should().OnlyContain(v => v == 0, "an expert without rows gets a zero weight gradient");
            log.Should().BeEmpty();
        }

        [Fact]
        public void AFallbackSaysWhyOncePerReasonAndKeepsThePerExpertResult()
        {
            long[] counts = { 2, 3 };
            var (x, w, _) = Operands(counts, 4, 4, false, ScalarType.Float32, seed: 4);
            var log = new List<string>();
            var unavailable = new EmulatedGroupedGemm { Missing = "libcublas.so.12 has no cublasGemmGroupedBatchedEx." };
            var matmul = new CudaGroupedMatmul(unavailable, log.Add);

            var first = matmul.Multiply(x, counts, w);
            matmul.Multiply(x, counts, w);
            unavailable.Missing = "rows of d = 3 float16 elements are not multiples of 16 bytes.";
            matmul.Multiply(x, counts, w);

            log.Should().Equal(
                "MoeLayers.Cuda: expert products run one per expert instead of as one grouped GEMM: libcublas.so.12 has no cublasGemmGroupedBatchedEx.",
                "MoeLayers.Cuda: expert products run one per expert instead of as one grouped GEMM: rows of d = 3 float16 elements are not multiples of 16 bytes.");
            unavailable.Runs.Should().Be(0);
            TensorAssert.Values(first).Should().Equal(TensorAssert.Values(PerExpertMatmul.Instance.Multiply(x, counts, w)));
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void ALibraryCallThatFailsFallsBackForGoodWithTheReason(bool failForward)
        {
            var failingPass = failForward ? GroupedGemmPass.Forward : GroupedGemmPass.GradWeight;
            long[] counts = { 3, 0, 4 };
            var (x, w, _) = Operands(counts, 8, 6, false, ScalarType.Float64, seed: 7);
            var log = new List<string>();
            var failing = new EmulatedGroupedGemm { FailOn = failingPass };
            var matmul = new CudaGroupedMatmul(failing, log.Add);

            var expected = Run(PerExpertMatmul.Instance, x, counts, w, null);
            var actual = Run(matmul, x, counts, w, null);
            for (var i = 0; i < expected.Length; i++) TensorAssert.Close(actual[i], expected[i], 1e-12, $"tensor #{i}");
            log.Should().ContainSingle().Which.Should().Contain("the grouped GEMM failed on cpu for Float64 (cublasGemmGroupedBatchedEx failed with cuBLAS status 15")
                .And.Contain("keeps the per-expert products");
            matmul.WhyPerExpert(x, counts, w).Should().Contain("the grouped GEMM failed");
            Run(matmul, x, counts, w, null);
            log.Should().HaveCount(1, "the reason is written once");
        }

        [Fact]
        public void TensorsTheRunnerDoesNotServeFallBackSilently()
        {
            long[] counts = { 2, 1 };
            var (x, w, _) = Operands(counts, 4, 4, false, ScalarType.Float32, seed: 5);
            var log = new List<string>();
            var cublas = new CudaGroupedMatmul(CublasGroupedGemm.Instance, log.Add);
            cublas.WhyPerExpert(x, counts, w).Should().Contain("not both on a CUDA device");
            cublas.Multiply(x, counts, w);
            log.Should().BeEmpty("CPU tensors are not the grouped GEMM's business");
        }

        [Fact]
        public void TheSwitchVariableForcesPerExpertProducts()
        {
            var matmul = new CudaGroupedMatmul(new EmulatedGroupedGemm(), _ => { });
            var (x, w, _) = Operands(new long[] { 1, 1 }, 4, 4, false, ScalarType.Float32, seed: 6);
            var previous = Environment.GetEnvironmentVariable(CudaGroupedMatmul.SwitchVariable);
            try
            {
                Environment.SetEnvironmentVariable(CudaGroupedMatmul.SwitchVariable, "0");
                matmul.WhyPerExpert(x, new long[] { 1, 1 }, w).Should().Be("MOELAYERS_CUDA_GROUPED_GEMM=0.");
            }
            finally
            {
                Environment.SetEnvironmentVariable(CudaGroupedMatmul.SwitchVariable, previous);
            }
        }

        [Fact]
        public void CublasTypesAndAlignmentRules()
        {
            CublasGroupedGemm.DataType(ScalarType.Float32).Should().Be(0);
            CublasGroupedGemm.DataType(ScalarType.BFloat16).Should().Be(14);
            CublasGroupedGemm.DataType(ScalarType.Float16).Should().Be(2);
            CublasGroupedGemm.DataType(ScalarType.Float64).Should().BeNull();
            CublasGroupedGemm.RequiredAlignment(ScalarType.BFloat16).Should().Be(16);
            CublasGroupedGemm.RequiredAlignment(ScalarType.Float16).Should().Be(16);
            if (!torch.backends.cuda.matmul.allow_tf32) CublasGroupedGemm.RequiredAlignment(ScalarType.Float32).Should().Be(4);
        }

        [Fact]
        public void WithoutCublasTheReasonNamesWhatWasTried()
        {
            var missing = CublasApi.TryLoad(out var api, "/nonexistent/libcublas.so.12");
            api.Should().BeNull();
            missing.Should().Be("MOELAYERS_CUBLAS=/nonexistent/libcublas.so.12 could not be loaded (no such file).");
            if (CublasApi.LibraryNames.Any(name => System.Runtime.InteropServices.NativeLibrary.TryLoad(name, out _))) return; // a GPU machine
            CublasApi.TryLoad(out _, null).Should().Contain("no cuBLAS library could be loaded (tried libcublas.so.13, libcublas.so.12, libcublas.so)");
        }

        [Fact]
        public void ShapesThatDoNotFitAreRefusedBeforeAnyProduct()
        {
            var (x, w, _) = Operands(new long[] { 2, 2 }, 4, 3, false, ScalarType.Float32, seed: 1);
            var matmul = new CudaGroupedMatmul(new EmulatedGroupedGemm(), _ => { });
            matmul.Invoking(m => m.Multiply(x, new long[] { 2, 1 }, w)).Should().Throw<ArgumentException>().WithMessage("*sum to 3 but there are 4 rows*");
            matmul.Invoking(m => m.Multiply(x, new long[] { 4 }, w)).Should().Throw<ArgumentException>().WithMessage("*1 counts and weights [E, d, h]*");
            matmul.Invoking(m => m.Multiply(x, new long[] { 2, 2 }, w, zeros(2, 4))).Should().Throw<ArgumentException>().WithMessage("*bias must be [E, h] = [2, 3]*");
        }

        private static (Tensor X, Tensor W, Tensor? B) Operands(long[] counts, int d, int h, bool bias, ScalarType dtype, int seed)
        {
            var generator = new Generator((ulong)seed);
            var x = randn(new[] { counts.Sum(), (long)d }, dtype, generator: generator).requires_grad_(true);
            var w = randn(new[] { counts.Length, (long)d, h }, dtype, generator: generator).requires_grad_(true);
            var b = bias ? randn(new[] { counts.Length, (long)h }, dtype, generator: generator).requires_grad_(true) : null;
            return (x, w, b);
        }

        /// <summary>Output, dX, dW (and dBias) of one grouped projection under a fixed random upstream gradient.</summary>
        private static Tensor[] Run(IGroupedMatmul matmul, Tensor x, long[] counts, Tensor w, Tensor? b)
        {
            foreach (var t in new[] { x, w, b }) t?.grad?.zero_();
            var y = matmul.Multiply(x, counts, w, b);
            var upstream = randn(y.shape, y.dtype, generator: new Generator(99));
            (y * upstream).sum().backward();
            var results = new List<Tensor> { y.detach().clone(), x.grad!.clone(), w.grad!.clone() };
            if (b is not null) results.Add(b.grad!.clone());
            return results.ToArray();
        }
    }

    /// <summary>
    /// cuBLAS's column-major GEMM semantics on CPU tensors: operand X of r rows, c columns and leading dimension ld at
    /// element offset o is the strided view (i, j) ↦ o + i + j·ld; op() transposes it; C = op(A) · op(B). Checks the plans
    /// exactly as the library will read them.
    /// </summary>
    internal sealed class EmulatedGroupedGemm : IGroupedGemmRunner
    {
        public string? Missing { get; set; }

        /// <summary>A pass whose call throws as a failing cuBLAS call would, or null.</summary>
        public GroupedGemmPass? FailOn { get; set; }

        public int Runs { get; private set; }

        public string Name => "emulated grouped GEMM";

        public string SwitchVariable => "MOELAYERS_CUDA_GROUPED_GEMM";

        public bool Serves(Device device) => device.type == DeviceType.CPU;

        public bool BeatsPaddedBuffer(ScalarType dtype) => false;

        public string? Unavailable(Tensor rows, long[] counts, Tensor weights) => Missing;

        public void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c)
        {
            Runs++;
            if (FailOn is { } pass && problems.Count > 0 && Pass(problems[0]) == pass)
                throw new InvalidOperationException("cublasGemmGroupedBatchedEx failed with cuBLAS status 15 (the functionality requested is not supported).");
            using var noGrad = no_grad();
            foreach (var p in problems)
            {
                var opA = ColumnMajor(a, p.TransA ? p.K : p.M, p.TransA ? p.M : p.K, p.Lda, p.OffsetA);
                var opB = ColumnMajor(b, p.TransB ? p.N : p.K, p.TransB ? p.K : p.N, p.Ldb, p.OffsetB);
                if (p.TransA) opA = opA.t();
                if (p.TransB) opB = opB.t();
                ColumnMajor(c, p.M, p.N, p.Ldc, p.OffsetC).copy_(opA.matmul(opB));
            }
        }

        private static GroupedGemmPass Pass(GemmProblem p) =>
            p.TransA ? GroupedGemmPass.GradInput : p.TransB ? GroupedGemmPass.GradWeight : GroupedGemmPass.Forward;

        private static Tensor ColumnMajor(Tensor t, int rows, int columns, int ld, long offset)
        {
            ld.Should().BeGreaterThanOrEqualTo(Math.Max(1, rows), "cuBLAS refuses a leading dimension below the row count");
            (offset + (rows - 1) + (long)(columns - 1) * ld).Should().BeLessThan(t.numel(), "the matrix must lie inside its tensor");
            return t.view(-1).as_strided(new long[] { rows, columns }, new long[] { 1, ld }, offset);
        }
    }
}
