using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.GpuHarness
{
    /// <summary>One comparison: the largest difference found (absolute, or relative to the reference's largest value) and its bound.</summary>
    /// <param name="Name">What was compared.</param>
    /// <param name="MaxDifference">Largest difference over all compared tensors (NaN when the check threw).</param>
    /// <param name="Tolerance">The bound.</param>
    /// <param name="Error">The exception's type and message when the check threw, else null.</param>
    public sealed record GpuCheckResult(string Name, double MaxDifference, double Tolerance, string? Error = null)
    {
        /// <summary>Whether the difference is within the tolerance.</summary>
        public bool Passed => Error is null && MaxDifference <= Tolerance;

        /// <inheritdoc />
        public override string ToString() => Error is not null
            ? $"FAIL  {Name}: threw {Error}"
            : $"{(Passed ? "PASS" : "FAIL")}  {Name}: max diff {MaxDifference:E3} (tolerance {Tolerance:E1})";
    }

    /// <summary>
    /// The GPU acceptance checks in three stages, each its own process on the GPU machine so that a native crash in one
    /// names the stage: <see cref="TorchSharpOnly"/> (no MoeLayers.Cuda code runs: TorchSharp on PyTorch's libtorch),
    /// <see cref="Fused"/> (the fused kernels, expert products per expert) and <see cref="Grouped"/> (cuBLAS's grouped
    /// GEMM, directly and inside the fused layer, every dtype, and a whole model in bfloat16). Layers are built on the CPU
    /// from a fixed seed and moved, so every variant has the same weights. A check that throws is reported and the
    /// others still run. Shared by the console harness and the GPU unit tests.
    /// </summary>
    public static class GpuChecks
    {
        private const string GroupedSwitch = "MOELAYERS_CUDA_GROUPED_GEMM";

        /// <summary>Every stage in order.</summary>
        /// <param name="device">A CUDA device.</param>
        public static IReadOnlyList<GpuCheckResult> Run(Device device) =>
            TorchSharpOnly(device).Concat(Fused(device)).Concat(Grouped(device)).ToArray();

        /// <summary>TorchSharp on the GPU against TorchSharp on the CPU: products, and a whole layer with the TorchSharp dispatch.</summary>
        /// <param name="device">A CUDA device.</param>
        public static IReadOnlyList<GpuCheckResult> TorchSharpOnly(Device device)
        {
            var results = new List<GpuCheckResult>
            {
                Check("TorchSharp matmul and bmm on the GPU vs the CPU", 1e-4, () =>
                {
                    var generator = new Generator(3);
                    var a = randn(new long[] { 4, 96, 64 }, generator: generator);
                    var b = randn(new long[] { 4, 64, 80 }, generator: generator);
                    return Relative(new[] { a.bmm(b), a[0].matmul(b[0]) }, new[] { a.to(device).bmm(b.to(device)), a[0].to(device).matmul(b[0].to(device)) });
                }),
            };
            foreach (var (name, options) in Cases())
            {
                results.Add(Check($"{name}: TorchSharp dispatch on {device} vs on cpu (output, input and parameter gradients)", 1e-4, () =>
                    Absolute(Step(Layer(options, CudaDispatchMode.Never, ScalarType.Float32, device), device, ScalarType.Float32),
                        Step(Layer(options, CudaDispatchMode.Never, ScalarType.Float32, CPU), CPU, ScalarType.Float32))));
            }
            return results;
        }

        /// <summary>The fused kernels with per-expert products: against the TorchSharp dispatch on the GPU and on the CPU.</summary>
        /// <param name="device">A CUDA device.</param>
        public static IReadOnlyList<GpuCheckResult> Fused(Device device) => WithGroupedGemm(false, () =>
        {
            var results = new List<GpuCheckResult>();
            foreach (var (name, options) in Cases().Append(FineGrained()))
            {
                Tensor[]? fused = null;
                results.Add(Check($"{name}: fused vs TorchSharp dispatch on {device}", 1e-4, () =>
                    Absolute(fused = Step(Layer(options, CudaDispatchMode.Always, ScalarType.Float32, device), device, ScalarType.Float32),
                        Step(Layer(options, CudaDispatchMode.Never, ScalarType.Float32, device), device, ScalarType.Float32))));
                Tensor[] FusedStep() => fused ?? throw new InvalidOperationException("the fused step failed in the check above.");
                results.Add(Check($"{name}: fused on {device} vs TorchSharp dispatch on cpu", 1e-4, () =>
                    Absolute(FusedStep(), Step(Layer(options, CudaDispatchMode.Never, ScalarType.Float32, CPU), CPU, ScalarType.Float32))));
                results.Add(Check($"{name}: two fused runs are bitwise equal", 0, () =>
                    Absolute(FusedStep(), Step(Layer(options, CudaDispatchMode.Always, ScalarType.Float32, device), device, ScalarType.Float32))));
            }
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            {
                // Same 16-bit rows on both sides; the fused combine sums in float32 and rounds once, TorchSharp rounds each product.
                var options = Cases().First().Options;
                results.Add(Check($"{dtype} layer: fused vs TorchSharp dispatch on {device} (output, input gradient; relative)", 3e-2, () =>
                    Relative(Step(Layer(options, CudaDispatchMode.Always, dtype, device), device, dtype).Take(2),
                        Step(Layer(options, CudaDispatchMode.Never, dtype, device), device, dtype).Take(2))));
            }
            return results;
        });

        /// <summary>
        /// cuBLAS's grouped GEMM: forward, dX and dW against a float64 per-group oracle for every dtype (TF32 too), a
        /// misaligned width that must fall back, the fused layer with and without it, and a whole model in bfloat16.
        /// </summary>
        /// <param name="device">A CUDA device.</param>
        public static IReadOnlyList<GpuCheckResult> Grouped(Device device)
        {
            var results = new List<GpuCheckResult>
            {
                new($"cuBLAS: {CublasGroupedGemm.Describe()}", 0, 0),
            };
            long[] counts = { 37, 0, 128, 5, 64, 22 };
            foreach (var (dtype, tf32, tolerance) in new[]
                     {
                         (ScalarType.Float32, false, 1e-5), (ScalarType.Float32, true, 5e-3),
                         (ScalarType.BFloat16, false, 1.5e-2), (ScalarType.Float16, false, 3e-3),
                     })
            {
                results.Add(Check($"grouped GEMM {dtype}{(tf32 ? " (TF32)" : "")}: forward, dX, dW vs a float64 per-group oracle (relative)", tolerance, () =>
                {
                    var previous = torch.backends.cuda.matmul.allow_tf32;
                    torch.backends.cuda.matmul.allow_tf32 = tf32;
                    try
                    {
                        return GroupedAgainstOracle(device, counts, 64, 96, dtype);
                    }
                    finally
                    {
                        torch.backends.cuda.matmul.allow_tf32 = previous;
                    }
                }));
            }
            results.Add(Check("grouped GEMM refuses bfloat16 rows of 12 elements (24 bytes) with the reason", 0, () =>
            {
                var rows = zeros(new long[] { 4, 12 }, ScalarType.BFloat16, device);
                var weights = zeros(new long[] { 2, 12, 16 }, ScalarType.BFloat16, device);
                var why = CublasGroupedGemm.Instance.Unavailable(rows, new long[] { 2, 2 }, weights);
                return why is not null && why.Contains("multiples of 16 bytes", StringComparison.Ordinal)
                    ? 0
                    : throw new InvalidOperationException($"the reason given was: {why ?? "none (it would have run)"}");
            }));
            foreach (var (name, options) in new[] { Cases().First(), Cases().ElementAt(1), FineGrained() })
            {
                foreach (var (dtype, tolerance) in new[] { (ScalarType.Float32, 1e-4), (ScalarType.BFloat16, 3e-2) })
                {
                    results.Add(Check($"{name}, {dtype}: fused with grouped GEMM vs fused with per-expert products (relative)", tolerance, () =>
                        Relative(WithGroupedGemm(true, () => Step(Layer(options, CudaDispatchMode.Always, dtype, device), device, dtype)),
                            WithGroupedGemm(false, () => Step(Layer(options, CudaDispatchMode.Always, dtype, device), device, dtype)))));
                }
            }
            results.Add(Check("whole model .to(bfloat16): router stays float32; fused + grouped GEMM vs TorchSharp dispatch, output and all gradients (relative)", 3e-2,
                () => WholeModelInBFloat16(device)));
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

        /// <summary>E = 64, k = 8 on 2048 tokens: several rank chunks and segments per block, 64 groups per grouped GEMM.</summary>
        private static (string Name, MoeLayerOptions Options) FineGrained() =>
            ("fine-grained top-8 of 64, SwiGLU, 2048 tokens", new MoeLayerOptions
            {
                InputDim = 128, HiddenDim = 64, NumExperts = 64, TopK = 8, Activation = ExpertActivation.SwiGlu,
            });

        /// <summary>Same weights whatever the mode, dtype and device: built on the CPU from a fixed seed, then moved.</summary>
        private static MoeLayer Layer(MoeLayerOptions options, CudaDispatchMode mode, ScalarType dtype, Device device)
        {
            var copy = options.Clone();
            copy.UseCudaDispatch = mode;
            manual_seed(1234);
            var layer = Moe.Create(copy);
            // A whole-layer conversion: the router keeps float32 by its own rule, the experts take the dtype.
            layer.to(dtype).to(device);
            return layer;
        }

        /// <summary>
        /// Forward on a fixed batch, backward of a fixed random projection of the output plus the auxiliary loss: [4, 100, d]
        /// tokens, or 2048 when there are 64 experts or more.
        /// </summary>
        private static Tensor[] Step(MoeLayer layer, Device device, ScalarType dtype)
        {
            var generator = new Generator(1);
            var lead = layer.NumExperts >= 64 ? new long[] { 2048 } : new long[] { 4, 100 };
            var x = randn(lead.Append(layer.InputDim).ToArray(), generator: generator).to(dtype).to(device).requires_grad_(true);
            var upstream = randn(lead.Append(layer.OutputDim).ToArray(), generator: generator).to(device);
            var step = layer.Run(x);
            var y = step.Output;
            ((y.to(ScalarType.Float32) * upstream).sum() + step.AuxiliaryLoss).backward();
            return new[] { y, x.grad! }.Concat(layer.parameters().Select(p => p.grad!))
                .Select(t => t.detach().to(ScalarType.Float64).cpu()).ToArray();
        }

        /// <summary>Largest relative difference of the grouped GEMM's Y, dX and dW from per-group float64 products on the CPU.</summary>
        private static double GroupedAgainstOracle(Device device, long[] counts, int d, int h, ScalarType dtype)
        {
            var generator = new Generator(11);
            var rows = randn(new[] { counts.Sum(), (long)d }, generator: generator).to(dtype);
            var weights = (randn(new[] { counts.Length, (long)d, h }, generator: generator) / Math.Sqrt(d)).to(dtype);
            var upstream = randn(new[] { counts.Sum(), (long)h }, generator: generator).to(dtype);
            var runner = CublasGroupedGemm.Instance;
            var (x, w, dy) = (rows.to(device), weights.to(device), upstream.to(device));
            if (runner.Unavailable(x, counts, w) is { } missing) throw new InvalidOperationException("the grouped GEMM is unavailable: " + missing);
            // A failed library call must fail the check, not fall back to per-expert products.
            var products = GroupedProducts.Library(runner, e => System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e));
            var y = products.Multiply(x, counts, w);
            var (dx, dw) = (products.MultiplyTransposed(dy, counts, w), products.WeightGradient(x, dy, counts));

            var (x64, w64, dy64) = (rows.to(ScalarType.Float64), weights.to(ScalarType.Float64), upstream.to(ScalarType.Float64));
            var blocks = x64.split(counts);
            var gradBlocks = dy64.split(counts);
            var expectedY = cat(blocks.Select((b, e) => b.matmul(w64[e])).ToArray(), 0);
            var expectedDx = cat(gradBlocks.Select((g, e) => g.matmul(w64[e].t())).ToArray(), 0);
            var expectedDw = stack(blocks.Select((b, e) => b.t().matmul(gradBlocks[e])).ToArray());
            return Relative(new[] { y, dx, dw }, new[] { expectedY, expectedDx, expectedDw });
        }

        /// <summary>
        /// Linear → MoE → Linear, .to(bfloat16) as a whole: the router must stay float32 and the experts take bfloat16;
        /// one training step on the fused path (grouped GEMM) against the same bfloat16 model on the TorchSharp dispatch.
        /// Both see the same bfloat16 router input, so they route alike (a float32 model would not: near-ties flip).
        /// </summary>
        private static double WholeModelInBFloat16(Device device)
        {
            Tensor[] StepOf(CudaDispatchMode mode)
            {
                manual_seed(77);
                var moe = Moe.Create(new MoeLayerOptions
                {
                    InputDim = 64, HiddenDim = 128, NumExperts = 8, TopK = 2, Activation = ExpertActivation.SwiGlu, UseCudaDispatch = mode,
                });
                var model = nn.Sequential(("in", nn.Linear(32, 64)), ("moe", moe), ("out", nn.Linear(64, 16)));
                model.to(ScalarType.BFloat16).to(device);
                var router = moe.named_parameters().Single(p => p.name == "router.weight").parameter;
                if (router.dtype != ScalarType.Float32) throw new InvalidOperationException($"router.weight became {router.dtype}.");
                if (moe.named_parameters().Single(p => p.name == "experts.w_in").parameter.dtype != ScalarType.BFloat16)
                    throw new InvalidOperationException("the experts did not take the model's dtype.");
                var generator = new Generator(5);
                var x = randn(new long[] { 512, 32 }, generator: generator).to(ScalarType.BFloat16).to(device);
                var y = model.call(x);
                (y.to(ScalarType.Float32).square().mean() + MoeAuxiliaryLoss.Collect(model)).backward();
                var tensors = new[] { y }.Concat(model.parameters().Select(p => p.grad!)).Select(t => t.detach().to(ScalarType.Float64).cpu()).ToArray();
                if (tensors.Any(t => !t.isfinite().all().item<bool>())) throw new InvalidOperationException($"the {mode} step produced NaN or Inf.");
                return tensors;
            }
            return WithGroupedGemm(true, () => Relative(StepOf(CudaDispatchMode.Always), StepOf(CudaDispatchMode.Never)));
        }

        private static T WithGroupedGemm<T>(bool on, Func<T> action)
        {
            var previous = Environment.GetEnvironmentVariable(GroupedSwitch);
            Environment.SetEnvironmentVariable(GroupedSwitch, on ? null : "0");
            try
            {
                return action();
            }
            finally
            {
                Environment.SetEnvironmentVariable(GroupedSwitch, previous);
            }
        }

        private static GpuCheckResult Check(string name, double tolerance, Func<double> difference)
        {
            try
            {
                using var scope = NewDisposeScope();
                return new GpuCheckResult(name, difference(), tolerance);
            }
            catch (Exception e)
            {
                return new GpuCheckResult(name, double.NaN, tolerance, $"{e.GetType().Name}: {e.Message}");
            }
        }

        private static double Absolute(IEnumerable<Tensor> a, IEnumerable<Tensor> b) =>
            a.Zip(b, (x, y) => (x.to(ScalarType.Float64).cpu() - y.to(ScalarType.Float64).cpu()).abs().max().item<double>()).Max();

        /// <summary>Per tensor, max |a − b| over max |b|; the largest of these.</summary>
        private static double Relative(IEnumerable<Tensor> a, IEnumerable<Tensor> b) =>
            a.Zip(b, (x, y) =>
            {
                var (x64, y64) = (x.to(ScalarType.Float64).cpu(), y.to(ScalarType.Float64).cpu());
                return (x64 - y64).abs().max().item<double>() / Math.Max(y64.abs().max().item<double>(), 1e-30);
            }).Max();
    }
}
