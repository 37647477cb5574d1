using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// The decode path's targets (suite <c>decode-bandwidth</c>): first the machine's read bandwidth (a 256 MiB sum, by
    /// torch and by C# threads), then evaluation forwards (eval, no_grad, statistics off) at T = 1 and T = 8 of the
    /// fine-grained layer (d = 512, h = 256, E = 64, k = 8, GELU) and of a Qwen3-30B-A3B layer (d = 2048, h = 768,
    /// E = 128, k = 8, SwiGLU), with float32, bfloat16 and int8 experts. Each timed call takes the next of 64 random inputs
    /// (so it routes to other experts than the call before) after an untimed read of a 256 MiB buffer that evicts the
    /// caches, so the active weights come from memory. Per case: median wall and CPU time, the active expert bytes of
    /// the call (T = 8: the union of its tokens' experts), and bytes / wall time as a share of the measured bandwidth.
    /// Rows: <c>layer</c> (the whole forward), <c>grouped</c> (the same layer with MOELAYERS_CPU_DECODE=0: the grouped
    /// products) and <c>kernel</c> (the decode expert MLP alone on the call's gathered rows, no routing or dispatch).
    /// </summary>
    public static class DecodeBandwidthCases
    {
        private const long BufferBytes = 256L << 20;
        private const int Inputs = 64;

        private sealed record Shape(string Name, int Dim, int Hidden, int Experts, int TopK, ExpertActivation Activation);

        private static readonly Shape[] Shapes =
        {
            new("fine", 512, 256, 64, 8, ExpertActivation.Gelu),
            new("qwen3-30b-a3b", 2048, 768, 128, 8, ExpertActivation.SwiGlu),
        };

        /// <summary>Prints the bandwidth, then one line per (shape, dtype, T, row).</summary>
        public static void RunQuick(int rounds)
        {
            using var buffer = ones(BufferBytes / 4, ScalarType.Float32);
            var bandwidth = MeasureBandwidth(buffer);
            Console.WriteLine("# figures from a shared, loaded machine (others build and test): medians; the CPU time is this process's");
            using var noGrad = no_grad();
            foreach (var shape in Shapes)
            {
                foreach (var dtype in new[] { "float32", "bfloat16", "int8" })
                {
                    using var layer = Build(shape, dtype);
                    foreach (var tokens in new[] { 1, 8 }) RunCases(shape, dtype, layer, tokens, rounds, buffer, bandwidth);
                }
            }
            RunThreshold(rounds, buffer);
        }

        /// <summary>
        /// Where <see cref="ExpertDecode.MaxRowsPerExpert"/> comes from: at the fine shape, every expert given r rows
        /// (r = 1 … 32), the expert MLP by the decode kernels against the bank's grouped products (MKL's batched GEMM in
        /// float32, libtorch's padded bmm in bfloat16) on the same sorted rows, caches flushed before each call.
        /// </summary>
        private static void RunThreshold(int rounds, Tensor buffer)
        {
            var shape = Shapes[0];
            foreach (var dtype in new[] { "float32", "bfloat16" })
            {
                using var layer = Build(shape, dtype);
                var bank = layer.Experts;
                var rowDtype = dtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
                foreach (var rowsPerExpert in new[] { 1, 2, 4, 8, 12, 16, 32 })
                {
                    var counts = Enumerable.Repeat((long)rowsPerExpert, shape.Experts).ToArray();
                    using var rows = randn(rowsPerExpert * shape.Experts, shape.Dim).to(rowDtype);
                    using var assignments = arange(rows.shape[0]);
                    var kernelAllowed = rowsPerExpert <= ExpertDecode.MaxRowsPerExpert(bank.InputWeight.dtype) && rowsPerExpert <= ExpertDecode.RowCap;
                    var state = layer.state_dict();
                    var gate = state.TryGetValue("experts.w_gate", out var g) ? new DecodeProjection(g, null, null) : (DecodeProjection?)null;
                    var (input, output) = (new DecodeProjection(state["experts.w_in"], null, null), new DecodeProjection(state["experts.w_out"], null, null));
                    var activation = new ActivationFunction(shape.Activation);
                    var cases = new (string Name, Action Call)[]
                    {
                        ("kernel", () => ExpertDecode.Run(rows, counts, input, gate, output, activation).Dispose()),
                        ("grouped", () => WithoutDecode(() => bank.ForwardSorted(rows, counts, assignments, LibraryGroupedMatmul.Default).Dispose())),
                    };
                    var times = cases.ToDictionary(c => c.Name, _ => new List<double>());
                    for (var round = -2; round < rounds; round++)
                    {
                        foreach (var (name, call) in cases)
                        {
                            Flush(buffer);
                            var seconds = Seconds(call);
                            if (round >= 0) times[name].Add(seconds);
                        }
                    }
                    var (kernel, grouped) = (Median(times["kernel"].ToArray()), Median(times["grouped"].ToArray()));
                    Console.WriteLine($"threshold shape={shape.Name} dtype={dtype} rows_per_expert={rowsPerExpert} kernel_us={kernel * 1e6:F0} "
                        + $"grouped_us={grouped * 1e6:F0} kernel_vs_grouped={kernel / grouped:F2} decode_path_taken={kernelAllowed}");
                }
            }
        }

        private static double MeasureBandwidth(Tensor buffer)
        {
            var torchSeconds = Median(Enumerable.Range(0, 7).Select(_ => Seconds(() => buffer.sum().item<float>())).ToArray());
            var csharpSeconds = Median(Enumerable.Range(0, 7).Select(_ => Seconds(() => ReadAll(buffer))).ToArray());
            var copyTarget = empty_like(buffer);
            var copySeconds = Median(Enumerable.Range(0, 7).Select(_ => Seconds(() => copyTarget.copy_(buffer))).ToArray());
            copyTarget.Dispose();
            var (torchRate, csharpRate, copyRate) = (BufferBytes / torchSeconds / 1e9, BufferBytes / csharpSeconds / 1e9, 2 * BufferBytes / copySeconds / 1e9);
            var bandwidth = Math.Max(torchRate, csharpRate);
            Console.WriteLine($"bandwidth buffer_mib={BufferBytes >> 20} torch_sum_gbs={torchRate:F1} csharp_sum_gbs={csharpRate:F1} "
                + $"torch_copy_gbs={copyRate:F1} (read+write) torch_threads={get_num_threads()} dotnet_workers={Environment.ProcessorCount} "
                + $"reference_gbs={bandwidth:F1} (the larger sum)");
            return bandwidth;
        }

        private static MoeLayer Build(Shape shape, string dtype)
        {
            manual_seed(7);
            var options = new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                Activation = shape.Activation, CollectStatistics = false,
            };
            var layer = new MoeLayer(options);
            layer.eval();
            if (dtype == "bfloat16") layer.to(ScalarType.BFloat16);
            if (dtype != "int8") return layer;
            var quantized = MoeQuantization.ToInt8Experts(layer);
            layer.Dispose();
            return quantized;
        }

        private static void RunCases(Shape shape, string dtype, MoeLayer layer, int tokens, int rounds, Tensor buffer, double bandwidth)
        {
            var inputDtype = dtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
            manual_seed(tokens);
            var inputs = Enumerable.Range(0, Inputs).Select(_ => randn(tokens, shape.Dim).to(inputDtype)).ToArray();
            var state = layer.state_dict();
            var elementBytes = state["experts.w_in"].element_size();
            var matrices = shape.Activation == ExpertActivation.SwiGlu ? 3 : 2;
            var bytesPerExpert = (long)matrices * shape.Dim * shape.Hidden * elementBytes;
            // Untimed: each input's experts (eval routing is deterministic), and its rows gathered in expert order.
            var routed = inputs.Select(x => Route(layer, x, shape.Experts)).ToArray();
            var gate = state.TryGetValue("experts.w_gate", out var g) ? new DecodeProjection(g, state.GetValueOrDefault("experts.w_gate_scale"), null) : (DecodeProjection?)null;
            var input = new DecodeProjection(state["experts.w_in"], state.GetValueOrDefault("experts.w_in_scale"), null);
            var output = new DecodeProjection(state["experts.w_out"], state.GetValueOrDefault("experts.w_out_scale"), null);
            var activation = new ActivationFunction(shape.Activation);
            var cases = new (string Name, Action<int> Call)[]
            {
                ("layer", i => layer.call(inputs[i]).Dispose()),
                ("grouped", i => WithoutDecode(() => layer.call(inputs[i]).Dispose())),
                ("kernel", i => ExpertDecode.Run(routed[i].Rows, routed[i].Counts, input, gate, output, activation).Dispose()),
            };
            foreach (var (name, call) in cases)
            {
                var (wall, cpu, bytes) = (new List<double>(), new List<double>(), new List<double>());
                for (var round = -2; round < rounds; round++)
                {
                    var i = (round + 2) % Inputs;
                    Flush(buffer);
                    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                    var seconds = Seconds(() => call(i));
                    var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
                    if (round < 0) continue;
                    wall.Add(seconds);
                    cpu.Add(cpuSeconds);
                    bytes.Add(routed[i].Experts * bytesPerExpert);
                }
                var (medianWall, medianBytes) = (Median(wall.ToArray()), Median(bytes.ToArray()));
                var rate = medianBytes / medianWall / 1e9;
                Console.WriteLine($"case={name} shape={shape.Name} dtype={dtype} tokens={tokens} median_us={medianWall * 1e6:F0} "
                    + $"cpu_us={Median(cpu.ToArray()) * 1e6:F0} active_experts={Median(routed.Select(r => (double)r.Experts).ToArray()):F0} "
                    + $"active_mb={medianBytes / 1e6:F2} gbs={rate:F1} share_of_bandwidth={rate / bandwidth:P0}");
            }
            foreach (var x in inputs) x.Dispose();
        }

        /// <summary>The distinct experts of <paramref name="x"/>'s tokens, and its rows sorted by expert with the counts.</summary>
        private static (int Experts, Tensor Rows, long[] Counts) Route(MoeLayer layer, Tensor x, int experts)
        {
            var indices = layer.Run(x).Routing.ExpertIndices.flatten();
            var pairs = indices.data<long>().ToArray();
            var counts = new long[experts];
            foreach (var e in pairs) counts[e]++;
            var k = pairs.Length / (int)x.shape[0];
            var tokenOfSortedPair = Enumerable.Range(0, pairs.Length).OrderBy(p => pairs[p]).Select(p => (long)(p / k)).ToArray();
            var rows = x.index_select(0, tensor(tokenOfSortedPair)).contiguous();
            return (counts.Count(c => c > 0), rows, counts);
        }

        private static void WithoutDecode(Action step)
        {
            var before = Environment.GetEnvironmentVariable(ExpertDecode.SwitchVariable);
            Environment.SetEnvironmentVariable(ExpertDecode.SwitchVariable, "0");
            try
            {
                step();
            }
            finally
            {
                Environment.SetEnvironmentVariable(ExpertDecode.SwitchVariable, before);
            }
        }

        /// <summary>
        /// Evicts the caches before a timed call by reading 256 MiB with libtorch's sum: on libtorch's own threads, as the
        /// operators before an MoE layer in a model run (a .NET Parallel.For here would leave .NET's pool threads spinning
        /// into the timed call, which no model does).
        /// </summary>
        private static void Flush(Tensor buffer) => buffer.sum().Dispose();

        /// <summary>Sums the buffer's floats on all cores with 512-bit (or narrower) vectors: a read of every byte.</summary>
        private static unsafe float ReadAll(Tensor buffer)
        {
            var data = (float*)TensorMemory.Address(buffer);
            var count = buffer.numel();
            var workers = Environment.ProcessorCount;
            var sums = new float[workers];
            Parallel.For(0, workers, w =>
            {
                var (start, end) = (count * w / workers, count * (w + 1) / workers);
                // Four independent sums, so that the adds' latency never limits the read.
                var (a0, a1, a2, a3) = (Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero);
                var i = start;
                for (; i + 64 <= end; i += 64)
                {
                    a0 += Vector512.Load(data + i);
                    a1 += Vector512.Load(data + i + 16);
                    a2 += Vector512.Load(data + i + 32);
                    a3 += Vector512.Load(data + i + 48);
                }
                var sum = Vector512.Sum(a0 + a1 + a2 + a3);
                for (; i < end; i++) sum += data[i];
                sums[w] = sum;
            });
            return sums.Sum();
        }

        private static double Seconds(Action step)
        {
            var watch = Stopwatch.StartNew();
            step();
            return watch.Elapsed.TotalSeconds;
        }

        private static double Median(double[] values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
