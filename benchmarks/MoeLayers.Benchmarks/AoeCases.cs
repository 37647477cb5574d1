using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Autonomy-of-Experts against a parameter-matched top-k MoE layer (SwiGLU experts of width h, learned top-k router):
    /// time and peak memory of one training step (forward + backward) at T = 4096, d = 512, E = 8, k = 2, for ranks
    /// r ∈ {64, 128, 256}. AoE widths are the matched h_aoe = (3·d·h − r·d)/(r + 2·d) rounded to a multiple of 64 (within
    /// 0.7 % of the MoE's parameters); one more case uses the nearest exact width at r = 128 to show what an odd width
    /// costs. Both layers use Auto dispatch and the Switch load-balancing loss; the MoE also has its default z-loss.
    /// </summary>
    public sealed class AoeCases : IDisposable
    {
        public const int Tokens = 4096;
        public const int Dim = 512;
        public const int MoeHidden = 2048;
        public const int NumExperts = 8;
        public const int TopK = 2;
        public static readonly int[] Ranks = { 64, 128, 256 };

        private readonly Tensor _x;
        private readonly List<Case> _cases = new();

        public AoeCases()
        {
            manual_seed(0);
            _x = randn(Tokens, Dim).requires_grad_(true);
            manual_seed(1);
            _cases.Add(new Case("moe", new MoeLayer(new MoeLayerOptions
            {
                InputDim = Dim, HiddenDim = MoeHidden, NumExperts = NumExperts, TopK = TopK, Activation = ExpertActivation.SwiGlu,
            }), MoeHidden, null));
            foreach (var rank in Ranks)
            {
                AddAoe($"aoe-r{rank}", rank, AutonomyOfExperts.ParameterMatchedHiddenDim(Dim, MoeHidden, rank, multipleOf: 64));
            }
            AddAoe("aoe-r128-exact", 128, AutonomyOfExperts.ParameterMatchedHiddenDim(Dim, MoeHidden, 128));
        }

        /// <summary>
        /// Prints one line per case, all from this run: peak memory of a step above the resident baseline (activations,
        /// temporaries and gradients; measured first, on a fresh heap), the same plus the parameters, then median wall
        /// and CPU time per step from rounds that interleave the cases, each relative to the MoE.
        /// </summary>
        public void RunQuick(int warmup, int rounds, int memoryRepeats)
        {
            var stepPeaks = _cases.Select(_ => double.NaN).ToArray();
            if (ProcessMemory.IsSupported) ProcessMemory.TrackingFreedMemory(() => stepPeaks = MeasureStepPeaks(memoryRepeats));
            var (wall, cpu) = InterleavedStepTimes(warmup, rounds);

            var moeTotal = stepPeaks[0] + ParameterBytes(_cases[0].Layer);
            for (var i = 0; i < _cases.Count; i++)
            {
                var c = _cases[i];
                var parameterBytes = ParameterBytes(c.Layer);
                var total = stepPeaks[i] + parameterBytes;
                Console.WriteLine(
                    $"case={c.Name} T={Tokens} d={Dim} E={NumExperts} k={TopK} h={c.Hidden} r={c.Rank?.ToString() ?? "-"} " +
                    $"params={parameterBytes / sizeof(float)} matmul_ceiling_vs_moe={MacsPerToken(_cases[0]) / MacsPerToken(c):F3} " +
                    $"wall_ms={wall[i]:F0} cpu_ms={cpu[i]:F0} " +
                    $"throughput_vs_moe_wall={wall[0] / wall[i]:F3} throughput_vs_moe_cpu={cpu[0] / cpu[i]:F3} " +
                    $"step_peak_mib={Mib(stepPeaks[i]):F1} step_peak_vs_moe={Percent(stepPeaks[i], stepPeaks[0])} " +
                    $"with_params_mib={Mib(total):F1} with_params_vs_moe={Percent(total, moeTotal)}");
            }
        }

        private void AddAoe(string name, int rank, int hidden)
        {
            manual_seed(1);
            _cases.Add(new Case(name, Moe.AutonomyOfExperts(Dim, hidden, rank, NumExperts, TopK), hidden, rank));
        }

        private void Step(MoeLayer layer)
        {
            var step = layer.Run(_x);
            (step.Output.sum() + step.AuxiliaryLoss).backward();
        }

        private double[] MeasureStepPeaks(int repeats) => ProcessMemory.MedianStepPeaks(
            _cases.Select(c => (Action)(() => Step(c.Layer))).ToArray(),
            () =>
            {
                foreach (var c in _cases) ClearGradients(c.Layer);
            },
            repeats);

        /// <summary>Median wall and process CPU milliseconds per step; each round runs every case once, in turn.</summary>
        private (double[] Wall, double[] Cpu) InterleavedStepTimes(int warmup, int rounds)
        {
            var wall = _cases.Select(_ => new List<double>()).ToArray();
            var cpu = _cases.Select(_ => new List<double>()).ToArray();
            for (var r = 0; r < warmup + rounds; r++)
            {
                for (var i = 0; i < _cases.Count; i++)
                {
                    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    using (var scope = NewDisposeScope()) Step(_cases[i].Layer);
                    var elapsed = watch.Elapsed.TotalMilliseconds;
                    var cpuElapsed = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds;
                    if (r < warmup) continue;
                    wall[i].Add(elapsed);
                    cpu[i].Add(cpuElapsed);
                }
            }
            return (wall.Select(Median).ToArray(), cpu.Select(Median).ToArray());
        }

        /// <summary>Multiply-adds per token of the layer's matrix products (router or W_down, then k experts).</summary>
        private static double MacsPerToken(Case c) => c.Rank is { } r
            ? (double)Dim * NumExperts * r + TopK * ((double)r * c.Hidden + 2.0 * Dim * c.Hidden)
            : (double)Dim * NumExperts + TopK * 3.0 * Dim * c.Hidden;

        private void ClearGradients(MoeLayer layer)
        {
            foreach (var p in layer.parameters()) p.grad = null;
            _x.grad = null;
        }

        private static double Median(List<double> values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            var n = sorted.Length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }

        private static long ParameterBytes(MoeLayer layer) => layer.parameters().Sum(p => p.numel() * p.element_size());

        private static double Mib(double bytes) => bytes / (1024.0 * 1024.0);

        private static string Percent(double value, double reference) => $"{(value / reference - 1) * 100:+0.0;-0.0}%";

        public void Dispose()
        {
            foreach (var c in _cases) c.Layer.Dispose();
            _x.Dispose();
        }

        private sealed record Case(string Name, MoeLayer Layer, int Hidden, int? Rank);
    }
}
