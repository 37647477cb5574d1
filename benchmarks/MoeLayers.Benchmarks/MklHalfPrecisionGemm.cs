using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// The grouped products on bfloat16 / float16 operands as MKL's half-precision GEMM takes them
    /// (cblas_gemm_bf16bf16f32 / cblas_gemm_f16f16f32, exported by TorchSharp-cpu 0.107's libtorch_cpu; MKL has no
    /// batched form): per problem of a <see cref="GroupedGemmPlan"/>, calls over blocks of at most `columnsPerCall`
    /// columns, products accumulated in float32 into a float32 block that is then rounded once to the output dtype
    /// (libtorch's own semantics for a bfloat16 matmul). Measured against libtorch's products by the `gemm-half` suite and
    /// not used by the library: on the AMD EPYC (AVX-512 BF16) machines here it ran at a fifth of libtorch's speed.
    /// </summary>
    internal static class MklHalfPrecisionGemm
    {
        private const int ColMajor = 102, NoTrans = 111, Trans = 112;

        [DllImport("libtorch_cpu.so")]
        private static extern void cblas_gemm_bf16bf16f32(int layout, int transA, int transB, int m, int n, int k, float alpha,
            IntPtr a, int lda, IntPtr b, int ldb, float beta, IntPtr c, int ldc);

        [DllImport("libtorch_cpu.so")]
        private static extern void cblas_gemm_f16f16f32(int layout, int transA, int transB, int m, int n, int k, float alpha,
            IntPtr a, int lda, IntPtr b, int ldb, float beta, IntPtr c, int ldc);

        /// <summary>Computes every problem of A and B (<paramref name="c"/>'s dtype, bfloat16 or float16) into C.</summary>
        public static void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c, int columnsPerCall)
        {
            if (problems.Count == 0) return;
            long largest = 0;
            foreach (var p in problems)
            {
                if (p.Ldc != p.M) throw new ArgumentException($"a problem's C must have leading dimension M = {p.M}; got {p.Ldc}.", nameof(problems));
                largest = Math.Max(largest, (long)p.M * Math.Min(p.N, columnsPerCall));
            }
            var bf16 = c.dtype == ScalarType.BFloat16;
            using var scope = NewDisposeScope();
            var block = empty(largest, ScalarType.Float32);
            var flat = c.view(-1);
            var (baseA, baseB, scratch) = (TensorMemory.Address(a), TensorMemory.Address(b), TensorMemory.Address(block));
            var size = (int)a.element_size();
            foreach (var p in problems)
            {
                var (transA, transB) = (p.TransA ? Trans : NoTrans, p.TransB ? Trans : NoTrans);
                for (var first = 0; first < p.N; first += columnsPerCall)
                {
                    var columns = Math.Min(columnsPerCall, p.N - first);
                    // Column j of op(B) starts at element j·ldb of B, or at element j of B when op(B) = Bᵀ.
                    var offsetB = p.OffsetB + (p.TransB ? first : (long)first * p.Ldb);
                    var (pa, pb) = (baseA + checked((nint)(p.OffsetA * size)), baseB + checked((nint)(offsetB * size)));
                    if (bf16) cblas_gemm_bf16bf16f32(ColMajor, transA, transB, p.M, columns, p.K, 1f, pa, p.Lda, pb, p.Ldb, 0f, scratch, p.M);
                    else cblas_gemm_f16f16f32(ColMajor, transA, transB, p.M, columns, p.K, 1f, pa, p.Lda, pb, p.Ldb, 0f, scratch, p.M);
                    var count = (long)p.M * columns;
                    flat.narrow(0, p.OffsetC + (long)first * p.Ldc, count).copy_(block.narrow(0, 0, count));
                }
            }
            GC.KeepAlive(a);
            GC.KeepAlive(b);
        }
    }
}
