using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Inference-time forward (eval mode, no gradients) of the MoE layer at decode-sized batches (T = 1, 8, 64 tokens)
    /// against a dense FFN of the same active width (d → k·h → d, GELU, no biases: the arithmetic of k experts per token),
    /// with the CPU grouped GEMM and with per-expert products, and with statistics off (CollectStatistics = false: no
    /// host copy of the loads, no losses). µs per call, medians of many interleaved calls.
    /// </summary>
    public sealed class DecodeCases : IDisposable
    {
        private static readonly long[] TokenCounts = { 1, 8, 64 };

        private readonly BenchShape _shape;
        private readonly MoeLayer _layer;
        private readonly MoeLayer _quietLayer;
        private readonly nn.Module<Tensor, Tensor> _dense;
        private readonly Dictionary<long, Tensor> _inputs = new();

        public DecodeCases(BenchShape shape)
        {
            _shape = shape;
            manual_seed(1);
            _layer = new MoeLayer(new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                Activation = ExpertActivation.Gelu,
            });
            _layer.eval();
            manual_seed(1);
            _quietLayer = new MoeLayer(new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                Activation = ExpertActivation.Gelu, CollectStatistics = false,
            });
            _quietLayer.eval();
            var active = shape.TopK * shape.Hidden;
            _dense = nn.Sequential(nn.Linear(shape.Dim, active, hasBias: false), nn.GELU(), nn.Linear(active, shape.Dim, hasBias: false));
            _dense.eval();
            foreach (var tokens in TokenCounts) _inputs[tokens] = randn(tokens, shape.Dim);
        }

        /// <summary>Prints one line per (case, T): median µs of wall and CPU time and the ratio to the dense FFN.</summary>
        public void RunQuick(int warmup, int rounds)
        {
            using var noGrad = no_grad();
            foreach (var tokens in TokenCounts)
            {
                var x = _inputs[tokens];
                var names = new[] { "dense-ffn", "moe-decode", "moe-decode-nostats", "moe-decode-perexpert" };
                var steps = new Action[]
                {
                    () => _dense.call(x),
                    () => _layer.call(x),
                    () => _quietLayer.call(x),
                    () => DispatchCases.WithoutCpuGroupedGemm(() => _layer.call(x)),
                };
                var (wall, cpu) = Timing.InterleavedWallAndCpu(steps, warmup, rounds);
                for (var i = 0; i < names.Length; i++)
                {
                    Console.WriteLine($"case={names[i]} shape={_shape} tokens={tokens} active_width={_shape.TopK * _shape.Hidden} "
                        + $"median_us={wall[i] * 1000:F0} ratio_to_dense={wall[i] / wall[0]:F3} cpu_us={cpu[i] * 1000:F0} cpu_ratio_to_dense={cpu[i] / cpu[0]:F3}");
                }
            }
        }

        public void Dispose()
        {
            foreach (var input in _inputs.Values) input.Dispose();
            _layer.Dispose();
            _quietLayer.Dispose();
            _dense.Dispose();
        }
    }
}
