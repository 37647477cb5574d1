using System;
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
    /// semantics on CPU tensors against the per-expert products, cuBLAS's own rules, and how the package registers cuBLAS
    /// with the core's grouped matmul (<see cref="LibraryGroupedMatmul"/>, tested on its own in
    /// <see cref="Experts.LibraryGroupedMatmulTests"/>).
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
            var (x, w, b) = GroupedProjection.Operands(counts, 6, 3, bias, ScalarType.Float64, seed: 2);
            using var events = new MoeLayersEventCapture();
            var gemm = new EmulatedGroupedGemm();
            var grouped = new LibraryGroupedMatmul(gemm);
            grouped.WhyPerExpert(x, counts, w).Should().BeNull();

            var expected = GroupedProjection.Run(LibraryGroupedMatmul.PerExpert, x, counts, w, b);
            var actual = GroupedProjection.Run(grouped, x, counts, w, b);
            for (var i = 0; i < expected.Length; i++) TensorAssert.Close(actual[i], expected[i], 1e-12, $"tensor #{i}");
            TensorAssert.Values(actual[2].select(0, 1)).Should().OnlyContain(v => v == 0, "an expert without rows gets a zero weight gradient");
            gemm.Runs.Should().Be(3, "one call forward, one for dX and one for dW");
            events.From(gemm.Name).Should().BeEmpty();
        }

        [Fact]
        public void TheCudaPackageRegistersCublasWithTheCoresChooserForCudaRowsOnly()
        {
            // Touching the package's types runs its module initializer.
            var cublas = CublasGroupedGemm.Instance;
            LibraryGroupedMatmul.Default.Runners.Should().Equal(MklGroupedGemm.Instance, cublas);
            LibraryGroupedMatmul.Default.RunnerFor(new Device(DeviceType.CUDA, 0)).Should().BeSameAs(cublas);
            LibraryGroupedMatmul.Default.RunnerFor(CPU).Should().BeSameAs(MklGroupedGemm.Instance);
            CudaDispatchRegistration.Register();
            LibraryGroupedMatmul.Default.Runners.Should().HaveCount(2, "registering again changes nothing");
            cublas.SwitchVariable.Should().Be("MOELAYERS_CUDA_GROUPED_GEMM", "the documented switch");
            LibraryGroupedMatmul.Default.Batches(new Device(DeviceType.CUDA, 0), ScalarType.Float32, new long[] { 64, 64 })
                .Should().BeFalse("cuBLAS against the padded buffer is not measured, so the core's shape rule decides");
        }

        [Fact]
        public void CpuTensorsNeverReachCublas()
        {
            long[] counts = { 2, 1 };
            var (x, w, _) = GroupedProjection.Operands(counts, 4, 4, false, ScalarType.Float32, seed: 5);
            CublasGroupedGemm.Instance.Unavailable(x, counts, w).Should().Contain("not both on a CUDA device");
            using var events = new MoeLayersEventCapture();
            var cudaOnly = new LibraryGroupedMatmul(CublasGroupedGemm.Instance);
            cudaOnly.WhyPerExpert(x, counts, w).Should().Be("no grouped GEMM runner serves cpu.");
            TensorAssert.Close(cudaOnly.Multiply(x, counts, w), LibraryGroupedMatmul.PerExpert.Multiply(x, counts, w), 0);
            events.From(CublasGroupedGemm.Instance.Name).Should().BeEmpty("CPU tensors are not cuBLAS's business");
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
    }
}
