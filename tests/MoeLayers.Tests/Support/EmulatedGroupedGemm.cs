using System;
using System.Collections.Generic;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Support
{
    /// <summary>
    /// cuBLAS's column-major GEMM semantics on CPU tensors: operand X of r rows, c columns and leading dimension ld at
    /// element offset o is the strided view (i, j) ↦ o + i + j·ld; op() transposes it; C = op(A) · op(B). Checks the plans
    /// exactly as the library will read them. It serves the CPU and stands in for cuBLAS (its switch variable), under a
    /// name of its own, so a test picks its own events out of the process-wide event source.
    /// </summary>
    internal sealed class EmulatedGroupedGemm : IGroupedGemmRunner
    {
        /// <summary>The message of the exception every failing call throws.</summary>
        public const string FailureMessage = "cublasGemmGroupedBatchedEx failed with cuBLAS status 15 (the functionality requested is not supported).";

        public string Name { get; } = $"emulated grouped GEMM {Guid.NewGuid():N}";

        public string SwitchVariable { get; init; } = "MOELAYERS_CUDA_GROUPED_GEMM";

        public string? Missing { get; set; }

        /// <summary>A pass whose call throws as a failing cuBLAS call would, or null.</summary>
        public GroupedGemmPass? FailOn { get; set; }

        /// <summary>Which calls throw (1 is the first), whatever their pass; null: none.</summary>
        public Func<int, bool>? FailCall { get; set; }

        /// <summary>Calls to <see cref="Run"/>, failed ones included.</summary>
        public int Runs { get; private set; }

        /// <summary>Calls to <see cref="Unavailable"/>.</summary>
        public int Checks { get; private set; }

        public bool Serves(Device device) => device.type == DeviceType.CPU;

        public bool BeatsPaddedBuffer(ScalarType dtype) => false;

        public string? Unavailable(Tensor rows, long[] counts, Tensor weights)
        {
            Checks++;
            return Missing;
        }

        public void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c)
        {
            Runs++;
            if ((FailOn is { } pass && problems.Count > 0 && Pass(problems[0]) == pass) || FailCall?.Invoke(Runs) == true)
                throw new InvalidOperationException(FailureMessage);
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
