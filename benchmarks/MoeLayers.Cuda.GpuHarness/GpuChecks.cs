using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.GpuHarness
{
    /// <summary>One comparison: the largest absolute difference found and the tolerance it must stay within.</summary>
    /// <param name="Name">What was compared.</param>
    /// <param name="MaxDifference">Largest |a − b| over all compared tensors.</param>
    /// <param name="Tolerance">The bound.</param>
    public sealed record GpuCheckResult(string Name, double MaxDifference, double Tolerance)
    {
        /// <summary>Whether the difference is within the tolerance.</summary>
        public bool Passed => MaxDifference <= Tolerance;

        /// <inheritdoc />
        public override string ToString() => $"{(Passed ? "PASS" : "FAIL")}  {Name}: max |diff| {MaxDifference:E3} (tolerance {Tolerance:E1})";
    }

    /// <summary>
    /// The GPU acceptance checks, through the public API only: a layer with UseCudaDispatch = Always against an identical
    /// one with Never (TorchSharp dispatch on the same GPU) and against a copy on the CPU, comparing outputs, input
    /// gradients and every parameter gradient. Shared by the console harness and the GPU unit tests.
    /// </summary>
    public static class GpuChecks
    {
        /// <summary>Runs every check on <paramref name="device"/>.</summary>
        /// <param name="device">A CUDA device.</param>
        public static IReadOnlyList<GpuCheckResult> Run(Device device)
        {
            var results = new List<GpuCheckResult>();
            foreach (var (name, options) in Cases())
            {
                using var scope = NewDisposeScope();
                var fused = Step(Layer(options, CudaDispatchMode.Always, ScalarType.Float32, device), device, ScalarType.Float32, 1);
                var plain = Step(Layer(options, CudaDispatchMode.Never, ScalarType.Float32, device), device, ScalarType.Float32, 1);
                var cpu = Step(Layer(options, CudaDispatchMode.Never, ScalarType.Float32, CPU), CPU, ScalarType.Float32, 1);
                var again = Step(Layer(options, CudaDispatchMode.Always, ScalarType.Float32, device), device, ScalarType.Float32, 1);
                results.Add(new GpuCheckResult($"{name}: fused vs TorchSharp dispatch on {device}", MaxDifference(fused, plain), 1e-4));
                results.Add(new GpuCheckResult($"{name}: fused on {device} vs TorchSharp dispatch on cpu", MaxDifference(fused, cpu), 1e-4));
                results.Add(new GpuCheckResult($"{name}: two fused runs are bitwise equal", MaxDifference(fused, again), 0));
            }
            using (NewDisposeScope())
            {
                var options = Cases().First().Options;
                // Same bf16 rows on both sides; the fused combine sums in float32 and rounds once, TorchSharp rounds each product.
                var fused = Step(Layer(options, CudaDispatchMode.Always, ScalarType.BFloat16, device), device, ScalarType.BFloat16, 1);
                var plain = Step(Layer(options, CudaDispatchMode.Never, ScalarType.BFloat16, device), device, ScalarType.BFloat16, 1);
                results.Add(new GpuCheckResult($"bfloat16 experts: fused vs TorchSharp dispatch on {device} (output, input gradient)",
                    MaxDifference(fused.Take(2), plain.Take(2)), 5e-2));
            }
            return results;
        }

        private static IEnumerable<(string Name, MoeLayerOptions Options)> Cases()
        {
            yield return ("top-2 of 8, dropless, GELU", new MoeLayerOptions { InputDim = 64, HiddenDim = 128, NumExperts = 8, TopK = 2 });
            yield return ("top-2 of 8, capacity 1.0 by position, SwiGLU + bias", new MoeLayerOptions
            {
                InputDim = 64, HiddenDim = 96, NumExperts = 8, TopK = 2, CapacityFactor = 1.0, Activation = ExpertActivation.SwiGlu, ExpertBias = true,
            });
            yield return ("top-2 of 6, capacity 0.75 by weight, shazeer order", new MoeLayerOptions
            {
                InputDim = 48, HiddenDim = 64, NumExperts = 6, TopK = 2, CapacityFactor = 0.75, DropPolicy = MoeLayers.DropPolicy.ByWeight,
                TopKOrder = MoeLayers.TopKOrder.TopKThenSoftmax,
            });
            yield return ("top-2 of 8, dropless, padded product", new MoeLayerOptions
            {
                InputDim = 64, HiddenDim = 128, NumExperts = 8, TopK = 2, Dispatch = MoeLayers.DispatchStrategy.Padded,
            });
            yield return ("switch, 16 experts, capacity 1.25", new MoeLayerOptions
            {
                InputDim = 32, HiddenDim = 64, NumExperts = 16, TopK = 1, Router = RouterKind.Switch, CapacityFactor = 1.25,
            });
        }

        /// <summary>Same weights whatever the mode, dtype and device: built on the CPU from a fixed seed, then moved.</summary>
        private static MoeLayerBase Layer(MoeLayerOptions options, CudaDispatchMode mode, ScalarType dtype, Device device)
        {
            var copy = options.Clone();
            copy.UseCudaDispatch = mode;
            manual_seed(1234);
            var layer = Moe.Create(copy);
            // A whole-layer conversion: the router keeps float32 by its own rule, the experts take the dtype.
            layer.to(dtype).to(device);
            return layer;
        }

        /// <summary>Forward on a fixed batch, backward of a fixed random projection of the output plus the auxiliary loss.</summary>
        private static Tensor[] Step(MoeLayerBase layer, Device device, ScalarType dtype, int seed)
        {
            var generator = new Generator((ulong)seed);
            var x = randn(new long[] { 4, 100, layer.InputDim }, generator: generator).to(dtype).to(device).requires_grad_(true);
            var upstream = randn(new long[] { 4, 100, layer.OutputDim }, generator: generator).to(device);
            var step = layer.Run(x);
            var y = step.Output;
            ((y.to(ScalarType.Float32) * upstream).sum() + step.AuxiliaryLoss).backward();
            return new[] { y, x.grad! }.Concat(layer.parameters().Select(p => p.grad!))
                .Select(t => t.detach().to(ScalarType.Float64).cpu()).ToArray();
        }

        private static double MaxDifference(IEnumerable<Tensor> a, IEnumerable<Tensor> b) =>
            a.Zip(b, (x, y) => (x - y).abs().max().item<double>()).Max();
    }
}
