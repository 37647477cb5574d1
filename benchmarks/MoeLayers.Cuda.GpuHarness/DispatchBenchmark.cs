using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.GpuHarness
{
    /// <summary>A benchmark shape.</summary>
    /// <param name="Name">coarse, fine or custom.</param>
    /// <param name="Tokens">T.</param>
    /// <param name="Dim">d.</param>
    /// <param name="Hidden">h (per expert).</param>
    /// <param name="Experts">E.</param>
    /// <param name="TopK">k.</param>
    public sealed record BenchShape(string Name, long Tokens, int Dim, int Hidden, int Experts, int TopK)
    {
        /// <summary>Mixtral-like: T = 16384, d = 1024, h = 4096, E = 8, k = 2.</summary>
        public static BenchShape Coarse { get; } = new("coarse", 16384, 1024, 4096, 8, 2);

        /// <summary>Fine-grained (DeepSeek/Qwen3-like): T = 16384, d = 1024, h = 512, E = 64, k = 8: the same active FLOPs per token as <see cref="Coarse"/>.</summary>
        public static BenchShape Fine { get; } = new("fine", 16384, 1024, 512, 64, 8);

        /// <inheritdoc />
        public override string ToString() => $"{Name}: T={Tokens} d={Dim} h={Hidden} E={Experts} k={TopK}";
    }

    /// <summary>How long to time.</summary>
    /// <param name="Activation">Expert activation (SwiGLU: three projections, as in Mixtral, DeepSeek, Qwen).</param>
    /// <param name="Warmup">Untimed runs per case first.</param>
    /// <param name="Rounds">Timed rounds; the median is reported.</param>
    public sealed record BenchSettings(ExpertActivation Activation = ExpertActivation.SwiGlu, int Warmup = 5, int Rounds = 21);

    /// <summary>
    /// One shape and dtype on the GPU: MoeLayers' fused dispatch with cuBLAS's grouped GEMM, the fused dispatch with
    /// per-expert products, and the TorchSharp dispatch, each forward only and as a training step (forward + backward),
    /// same weights and inputs, plus the dense floor: one FFN of width h on k·T rows, the same active FLOPs, so each MoE
    /// time reads as a ratio to it. Medians of interleaved rounds (drift hits every case alike), each run timed to a
    /// device synchronize. Router and dispatch without auxiliary losses or statistics, as the PyTorch baselines.
    /// </summary>
    public static class DispatchBenchmark
    {
        private const string GroupedSwitch = "MOELAYERS_CUDA_GROUPED_GEMM";

        /// <summary>Runs the cases, prints a table and returns one JSON line per case.</summary>
        /// <param name="device">A CUDA device.</param>
        /// <param name="shape">The shape.</param>
        /// <param name="dtype">float32 or bfloat16 (whole layer converted; the router stays float32).</param>
        /// <param name="settings">Activation and rounds.</param>
        /// <param name="log">Where the table goes.</param>
        public static IReadOnlyList<string> Run(Device device, BenchShape shape, ScalarType dtype, BenchSettings settings, TextWriter log)
        {
            using var scope = NewDisposeScope();
            var options = new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK, Activation = settings.Activation,
                CollectStatistics = false, LoadBalancingLoss = LoadBalancingLossKind.None, ZLossCoefficient = 0,
            };
            var fused = Layer(options, CudaDispatchMode.Always, dtype, device);
            var plain = Layer(options, CudaDispatchMode.Never, dtype, device);
            var generator = new Generator(7);
            var x = randn(new[] { shape.Tokens, (long)shape.Dim }, generator: generator).to(dtype).to(device);
            var floor = DenseFloor(shape, dtype, settings.Activation, device, generator);

            var cases = new (string Name, Action Forward, Action Train)[]
            {
                ("moelayers fused + grouped GEMM", Grouped(true, Forward(fused, x, device)), Grouped(true, Train(fused, x, device))),
                ("moelayers fused, per-expert products", Grouped(false, Forward(fused, x, device)), Grouped(false, Train(fused, x, device))),
                ("moelayers TorchSharp dispatch", Forward(plain, x, device), Train(plain, x, device)),
                ("dense FFN on k*T rows (floor)", floor.Forward, floor.Train),
            };
            var steps = cases.SelectMany(c => new[] { c.Forward, c.Train }).ToArray();
            var medians = InterleavedMedians(steps, settings.Warmup, settings.Rounds);
            var floorTrain = medians[^1];
            var dtypeName = DTypeName(dtype);
            log.WriteLine($"device {device}, {shape}, {dtypeName}, {settings.Activation}, median of {settings.Rounds} after {settings.Warmup} warm-up runs");
            log.WriteLine($"  {"case",-40} {"forward ms",11} {"train ms",10} {"train / floor",14}");
            var lines = new List<string>();
            for (var i = 0; i < cases.Length; i++)
            {
                var (forward, train) = (medians[2 * i], medians[2 * i + 1]);
                log.WriteLine($"  {cases[i].Name,-40} {forward,11:F3} {train,10:F3} {train / floorTrain,14:F3}");
                lines.Add(Json(cases[i].Name, shape, dtypeName, settings, forward, train, floorTrain));
            }
            return lines;
        }

        /// <summary>float32 → "fp32", bfloat16 → "bf16".</summary>
        /// <param name="dtype">The dtype.</param>
        public static string DTypeName(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => "fp32",
            ScalarType.BFloat16 => "bf16",
            ScalarType.Float16 => "fp16",
            _ => dtype.ToString(),
        };

        private static MoeLayer Layer(MoeLayerOptions options, CudaDispatchMode mode, ScalarType dtype, Device device)
        {
            var copy = options.Clone();
            copy.UseCudaDispatch = mode;
            manual_seed(7);
            var layer = Moe.Create(copy);
            // A whole-layer conversion: the router keeps float32 by its own rule, the experts take the dtype.
            layer.to(dtype).to(device);
            return layer;
        }

        private static Action Forward(MoeLayer layer, Tensor x, Device device) => () =>
        {
            using var noGrad = no_grad();
            layer.call(x);
            cuda.synchronize(device);
        };

        private static Action Train(MoeLayer layer, Tensor x, Device device) => () =>
        {
            var input = x.detach().requires_grad_(true);
            layer.call(input).to(ScalarType.Float32).sum().backward();
            cuda.synchronize(device);
        };

        private static Action Grouped(bool on, Action step) => () =>
        {
            Environment.SetEnvironmentVariable(GroupedSwitch, on ? null : "0");
            try
            {
                step();
            }
            finally
            {
                Environment.SetEnvironmentVariable(GroupedSwitch, null);
            }
        };

        /// <summary>One dense FFN of width h (same activation) on k·T rows: the active FLOPs of the MoE layer with no routing or dispatch.</summary>
        private static (Action Forward, Action Train) DenseFloor(BenchShape shape, ScalarType dtype, ExpertActivation activation, Device device, Generator generator)
        {
            Tensor Weight(long rows, long columns) =>
                (randn(new[] { rows, columns }, generator: generator) / Math.Sqrt(rows)).to(dtype).to(device).requires_grad_(true);
            var rows = randn(new[] { shape.Tokens * shape.TopK, (long)shape.Dim }, generator: generator).to(dtype).to(device).requires_grad_(true);
            var (wIn, wOut) = (Weight(shape.Dim, shape.Hidden), Weight(shape.Hidden, shape.Dim));
            var wGate = activation == ExpertActivation.SwiGlu ? Weight(shape.Dim, shape.Hidden) : null;
            Tensor Ffn()
            {
                var hidden = rows.matmul(wIn);
                hidden = activation switch
                {
                    ExpertActivation.SwiGlu => nn.functional.silu(rows.matmul(wGate!)) * hidden,
                    ExpertActivation.Relu => nn.functional.relu(hidden),
                    _ => nn.functional.gelu(hidden),
                };
                return hidden.matmul(wOut);
            }
            void Forward()
            {
                using var noGrad = no_grad();
                Ffn();
                cuda.synchronize(device);
            }
            void Train()
            {
                Ffn().to(ScalarType.Float32).sum().backward();
                cuda.synchronize(device);
            }
            return (Forward, Train);
        }

        /// <summary>Median wall time per step, the steps alternating round by round.</summary>
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

        private static string Json(string name, BenchShape shape, string dtype, BenchSettings settings, double forward, double train, double floor) =>
            string.Create(CultureInfo.InvariantCulture,
                $"{{\"impl\": \"moelayers\", \"case\": \"{name}\", \"shape\": \"{shape.Name}\", \"tokens\": {shape.Tokens}, \"dim\": {shape.Dim}, "
                + $"\"hidden\": {shape.Hidden}, \"experts\": {shape.Experts}, \"topk\": {shape.TopK}, \"dtype\": \"{dtype}\", "
                + $"\"activation\": \"{settings.Activation.ToString().ToLowerInvariant()}\", \"rounds\": {settings.Rounds}, "
                + $"\"forward_ms\": {forward:F4}, \"train_ms\": {train:F4}, \"floor_train_ms\": {floor:F4}}}");
    }
}
