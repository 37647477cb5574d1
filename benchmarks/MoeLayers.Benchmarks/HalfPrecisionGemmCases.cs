using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// The three grouped products of one expert projection (Y = X·W, dX = dY·Wᵀ, dW = Xᵀ·dY) in bfloat16 and float16, the
    /// ways the library could run them, interleaved: `single`, the same multiply-adds as one dense product in the dtype
    /// (the floor); `padded-batch`, libtorch's bmm over the groups copied into a zero-padded buffer
    /// (<see cref="GroupedProducts.PaddedBatch"/>, what the library runs); `per-expert`, one TorchSharp product per expert
    /// (libtorch's own products, the fallback before); `mkl`, MKL's cblas_gemm_bf16bf16f32 / cblas_gemm_f16f16f32 per
    /// group in blocks of 256 columns (its float32 result rounded while in cache); `mkl-whole`, one MKL call per group.
    /// Groups are uneven (±25% around the mean, so the buffer holds 25% padding), as a router makes them; `bmm` is one
    /// batched product on equal groups, for reference.
    /// </summary>
    public static class HalfPrecisionGemmCases
    {
        private static readonly (string Name, int Rows, int Dim, int Hidden, int Experts)[] Projections =
        {
            ("small", 1024, 128, 512, 8),
            ("large", 8192, 512, 2048, 8),
            ("fine", 32768, 512, 256, 64),
        };

        /// <summary>Prints one line per projection, pass and dtype: each form's median wall and CPU time and its ratio to `single`.</summary>
        public static void RunQuick()
        {
            Console.WriteLine($"# half-precision grouped GEMM: MKL {MklGroupedGemm.Describe()}");
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            {
                foreach (var (name, rows, dim, hidden, experts) in dtype == ScalarType.Float16 ? Projections.Take(1) : Projections)
                {
                    foreach (var pass in Enum.GetValues<GroupedGemmPass>())
                        Print(name, pass, dtype, rows, dim, hidden, experts, rows > 2048 ? 9 : 61);
                }
            }
        }

        private static void Print(string name, GroupedGemmPass pass, ScalarType dtype, int m, int d, int h, int experts, int rounds)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var counts = Uneven(m, experts);
            var equal = Enumerable.Repeat((long)(m / experts), experts).ToArray();
            var (x, w, dy) = (randn(m, d).to(dtype), randn(experts, d, h).to(dtype), randn(m, h).to(dtype));
            var dense = randn(d, h).to(dtype);
            Func<GroupedProducts, long[], Tensor> product = pass switch
            {
                GroupedGemmPass.Forward => (p, c) => p.Multiply(x, c, w),
                GroupedGemmPass.GradInput => (p, c) => p.MultiplyTransposed(dy, c, w),
                _ => (p, c) => p.WeightGradient(x, dy, c),
            };
            Func<Tensor> single = pass switch
            {
                GroupedGemmPass.Forward => () => x.matmul(dense),
                GroupedGemmPass.GradInput => () => dy.matmul(dense.t()),
                _ => () => x.t().matmul(dy),
            };
            var plan = GroupedGemmPlan.Build(pass, counts, d, h);
            var names = new List<string> { "single", "padded-batch", "per-expert", "mkl", "mkl-whole", "bmm" };
            var steps = new List<Action>
            {
                () => single().Dispose(),
                () => product(GroupedProducts.PaddedBatch, counts).Dispose(),
                () => product(GroupedProducts.PerExpert, counts).Dispose(),
                () => Mkl(pass, plan, x, w, dy, dtype, m, d, h, experts, 256).Dispose(),
                () => Mkl(pass, plan, x, w, dy, dtype, m, d, h, experts, int.MaxValue).Dispose(),
                () => product(GroupedProducts.PerExpert, equal).Dispose(),
            };
            var (wall, cpu) = Timing.InterleavedWallAndCpu(steps.ToArray(), warmup: 2, rounds);
            var cells = names.Select((n, i) => $"{n}_ms={wall[i]:F2} {n}_ratio={wall[i] / wall[0]:F2} {n}_cpu_ms={cpu[i]:F2}");
            Console.WriteLine($"case={name} pass={pass} dtype={dtype} M={m} d={d} h={h} E={experts} {string.Join(" ", cells)}");
        }

        /// <summary>MKL's half-precision GEMM per group, <paramref name="columns"/> columns of C per call.</summary>
        private static Tensor Mkl(GroupedGemmPass pass, IReadOnlyList<GemmProblem> plan, Tensor x, Tensor w, Tensor dy, ScalarType dtype, int m, int d, int h, int experts, int columns)
        {
            var c = pass switch
            {
                GroupedGemmPass.Forward => empty(new long[] { m, h }, dtype),
                GroupedGemmPass.GradInput => empty(new long[] { m, d }, dtype),
                _ => empty(new long[] { experts, d, h }, dtype),
            };
            var (a, b) = pass switch
            {
                GroupedGemmPass.Forward => (w, x),
                GroupedGemmPass.GradInput => (w, dy),
                _ => (dy, x),
            };
            MklHalfPrecisionGemm.Run(plan, a, b, c, columns);
            return c;
        }

        private static long[] Uneven(int m, int experts)
        {
            var mean = m / experts;
            var counts = Enumerable.Range(0, experts).Select(e => (long)(mean + (e % 2 == 0 ? mean / 4 : -mean / 4))).ToArray();
            counts[^1] += m - counts.Sum();
            return counts;
        }
    }
}
