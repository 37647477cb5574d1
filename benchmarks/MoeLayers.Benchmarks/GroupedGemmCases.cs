using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// One forward projection of every expert (rows [M, d] in E equal groups times W [E, d, h]) four ways, interleaved:
    /// the single product of all M rows by one [d, h] matrix (the floor: the same multiply-adds in one call), MKL's
    /// batched GEMM as the library calls it (one call, MKL threads the batch), the batch spread over the torch threads
    /// with one MKL thread each (a share of the experts per thread, MKL_Set_Num_Threads_Local(1)), and one TorchSharp
    /// product per expert. Then the same at decode sizes (1 to 8 rows per expert), where the library's choice between
    /// the batched call and per-expert products is made.
    /// </summary>
    public static class GroupedGemmCases
    {
        private static readonly (string Name, int Rows, int Dim, int Hidden, int Experts)[] Projections =
        {
            ("small", 1024, 128, 512, 8),
            ("large", 8192, 512, 2048, 8),
            ("fine", 32768, 512, 256, 64),
        };

        /// <summary>Prints one line per projection with each form's median wall and CPU time and its ratio to the single product.</summary>
        public static void RunQuick()
        {
            Console.WriteLine($"# grouped GEMM: MKL {MklGroupedGemm.Describe()}");
            foreach (var (name, rows, dim, hidden, experts) in Projections)
                Print($"projection={name}", rows / experts, dim, hidden, experts, rows > 2048 ? 15 : 101, withSpread: true);
            foreach (var (dim, hidden) in new[] { (512, 256), (512, 2048) })
            {
                foreach (var perExpert in new[] { 1, 2, 4, 8 })
                    Print("decode", perExpert, dim, hidden, 8, 201, withSpread: false);
            }
        }

        private static void Print(string label, int rowsPerExpert, int dim, int hidden, int experts, int rounds, bool withSpread)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var counts = Enumerable.Repeat((long)rowsPerExpert, experts).ToArray();
            var m = rowsPerExpert * experts;
            var (x, w, single, y) = (randn(m, dim), randn(experts, dim, hidden), randn(dim, hidden), empty(m, hidden));
            var plan = GroupedGemmPlan.Build(GroupedGemmPass.Forward, counts, dim, hidden);
            var threads = get_num_threads();
            var shares = Enumerable.Range(0, threads).Select(t => plan.Where((_, i) => i % threads == t).ToList()).ToArray();
            var names = new List<string> { "single", "mkl-batch" };
            var steps = new List<Action> { () => x.matmul(single).Dispose(), () => MklGroupedGemm.Instance.Run(plan, w, x, y) };
            if (withSpread && threads > 1)
            {
                names.Add("mkl-spread");
                steps.Add(() => Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    var before = MKL_Set_Num_Threads_Local(1);
                    try
                    {
                        MklGroupedGemm.Instance.Run(shares[t], w, x, y);
                    }
                    finally
                    {
                        MKL_Set_Num_Threads_Local(before);
                    }
                }));
            }
            names.Add("per-expert");
            steps.Add(() =>
            {
                using var inner = NewDisposeScope();
                for (var e = 0; e < experts; e++) x.narrow(0, (long)e * rowsPerExpert, rowsPerExpert).matmul(w[e]);
            });
            var (wall, cpu) = Timing.InterleavedWallAndCpu(steps.ToArray(), warmup: 5, rounds);
            var cells = names.Select((n, i) => $"{n}_us={wall[i] * 1000:F0} {n}_ratio={wall[i] / wall[0]:F2} {n}_cpu_us={cpu[i] * 1000:F0}");
            Console.WriteLine($"case={label} rows_per_expert={rowsPerExpert} d={dim} h={hidden} E={experts} threads={threads} {string.Join(" ", cells)}");
        }

        [DllImport("libtorch_cpu.so")]
        private static extern int MKL_Set_Num_Threads_Local(int threads);
    }
}
