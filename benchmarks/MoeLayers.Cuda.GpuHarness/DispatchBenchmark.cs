using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.GpuHarness
{
    /// <summary>The benchmark shape; defaults are the T=16384, d=1024, h=4096, E=8, k=2.</summary>
    public sealed record BenchShape(long Tokens = 16384, int Dim = 1024, int Hidden = 4096, int Experts = 8, int TopK = 2,
        ScalarType DType = ScalarType.Float32, int Warmup = 5, int Rounds = 21);

    /// <summary>
    /// Fused CUDA dispatch vs the TorchSharp dispatch on the same GPU and the same weights, forward only and a training
    /// step (forward + backward), each timed to a device synchronize, in one interleaved run; plus the dense floor (one
    /// FFN of width h on k·T rows) so the MoE cost reads as a ratio to it.
    /// </summary>
    public static class DispatchBenchmark
    {
        public static void Run(Device device, BenchShape shape, TextWriter log)
        {
            var options = new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK, CollectStatistics = false,
            };
            var fused = Layer(options, CudaDispatchMode.Always, shape.DType, device);
            var plain = Layer(options, CudaDispatchMode.Never, shape.DType, device);
            var x = randn(new[] { shape.Tokens, (long)shape.Dim }).to(shape.DType).to(device);
            var rows = randn(new[] { shape.Tokens * shape.TopK, (long)shape.Dim }).to(shape.DType).to(device).requires_grad_(true);
            var w1 = (randn(shape.Dim, shape.Hidden) / Math.Sqrt(shape.Dim)).to(shape.DType).to(device).requires_grad_(true);
            var w2 = (randn(shape.Hidden, shape.Dim) / Math.Sqrt(shape.Hidden)).to(shape.DType).to(device).requires_grad_(true);

            Action Forward(MoeLayerBase layer) => () =>
            {
                using var noGrad = no_grad();
                layer.call(x);
                cuda.synchronize(device);
            };
            Action Train(MoeLayerBase layer) => () =>
            {
                var xg = x.detach().requires_grad_(true);
                layer.call(xg).to(ScalarType.Float32).sum().backward();
                cuda.synchronize(device);
            };
            Action floor = () =>
            {
                nn.functional.gelu(rows.matmul(w1)).matmul(w2).to(ScalarType.Float32).sum().backward();
                cuda.synchronize(device);
            };

            var names = new[] { "fused dispatch, forward", "TorchSharp dispatch, forward", "fused dispatch, train step", "TorchSharp dispatch, train step", "dense floor (k·T rows), train step" };
            var medians = InterleavedMedians(new[] { Forward(fused), Forward(plain), Train(fused), Train(plain), floor }, shape.Warmup, shape.Rounds);
            log.WriteLine($"device {device}, {shape}");
            for (var i = 0; i < names.Length; i++) log.WriteLine($"  {names[i],-38} {medians[i],9:F3} ms (median of {shape.Rounds})");
            log.WriteLine($"  forward: fused / TorchSharp = {medians[0] / medians[1]:F3}");
            log.WriteLine($"  train:   fused / TorchSharp = {medians[2] / medians[3]:F3};  fused / floor = {medians[2] / medians[4]:F3};  TorchSharp / floor = {medians[3] / medians[4]:F3}");
        }

        private static MoeLayerBase Layer(MoeLayerOptions options, CudaDispatchMode mode, ScalarType dtype, Device device)
        {
            var copy = options.Clone();
            copy.UseCudaDispatch = mode;
            manual_seed(7);
            var layer = Moe.Create(copy);
            // A whole-layer conversion: the router keeps float32 by its own rule, the experts take the dtype.
            layer.to(dtype).to(device);
            return layer;
        }

        /// <summary>Median wall time per case, the cases alternating round by round so drift hits all alike.</summary>
        private static double[] InterleavedMedians(Action[] steps, int warmup, int rounds)
        {
            foreach (var step in steps) for (var i = 0; i < warmup; i++) Scoped(step);
            var times = steps.Select(_ => new double[rounds]).ToArray();
            for (var r = 0; r < rounds; r++)
            {
                for (var c = 0; c < steps.Length; c++)
                {
                    var watch = Stopwatch.StartNew();
                    Scoped(steps[c]);
                    times[c][r] = watch.Elapsed.TotalMilliseconds;
                }
            }
            return times.Select(t => t.OrderBy(v => v).ElementAt(rounds / 2)).ToArray();
        }

        private static void Scoped(Action step)
        {
            using var scope = NewDisposeScope();
            step();
        }
    }
}
