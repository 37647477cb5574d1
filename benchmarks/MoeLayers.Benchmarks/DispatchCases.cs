using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Forward + backward of the MoE layer against its floor: one dense FFN of width h (same activation, no bias)
    /// applied to k·T rows, measured in the same run. The grouped strategy runs twice: with the CPU grouped GEMM (MKL's
    /// batched GEMM, the default where available) and with per-expert products (MOELAYERS_CPU_GROUPED_GEMM=0). Also the
    /// per-expert reference loop. The layer, its floor and the input are in one dtype (float32, or bfloat16 after
    /// `Module.to`: the floor's dense products then run in bfloat16 too, so each dtype is measured against its own floor).
    /// </summary>
    public sealed class DispatchCases : IDisposable
    {
        private readonly BenchShape _shape;
        private readonly ScalarType _dtype;
        private readonly Tensor _x;
        private readonly Tensor _floorInput;
        private readonly nn.Module<Tensor, Tensor> _floor;
        private readonly Dictionary<DispatchStrategy, MoeLayer> _layers = new();
        private readonly MoeLayer _composed;

        public DispatchCases(BenchShape shape, ScalarType dtype = ScalarType.Float32)
        {
            (_shape, _dtype) = (shape, dtype);
            manual_seed(0);
            _x = randn(shape.Tokens, shape.Dim).to(dtype).requires_grad_(true);
            _floorInput = randn(shape.Tokens * shape.TopK, shape.Dim).to(dtype).requires_grad_(true);
            _floor = nn.Sequential(
                nn.Linear(shape.Dim, shape.Hidden, hasBias: false),
                nn.GELU(),
                nn.Linear(shape.Hidden, shape.Dim, hasBias: false));
            _floor.to(dtype);
            foreach (var strategy in new[] { DispatchStrategy.Auto, DispatchStrategy.Grouped, DispatchStrategy.Padded, DispatchStrategy.Reference })
            {
                manual_seed(1);
                _layers[strategy] = new MoeLayer(new MoeLayerOptions
                {
                    InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                    Activation = ExpertActivation.Gelu, Dispatch = strategy,
                });
                _layers[strategy].to(dtype);
            }
            manual_seed(1);
            _composed = new MoeLayer(new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                Activation = ExpertActivation.Gelu, MemoryOptimizedExperts = false,
            });
            _composed.to(dtype);
        }

        /// <summary>The dtype of the layers, their floor and the input.</summary>
        public ScalarType DType => _dtype;

        /// <summary>The dtype as the quick suites print it.</summary>
        public string DTypeName => _dtype == ScalarType.BFloat16 ? "bf16" : _dtype == ScalarType.Float32 ? "fp32" : _dtype.ToString();

        public void Floor() => _floor.call(_floorInput).sum().backward();

        public void Layer(DispatchStrategy strategy) => Step(_layers[strategy]);

        /// <summary>Auto dispatch with the expert MLP composed of autograd ops per projection (MemoryOptimizedExperts = false).</summary>
        public void ComposedLayer() => Step(_composed);

        private void Step(MoeLayer layer)
        {
            var step = layer.Run(_x);
            (step.Output.sum() + step.AuxiliaryLoss).backward();
        }

        /// <summary>The grouped strategy with its projections forced to one TorchSharp product per expert.</summary>
        public void PerExpertLayer() => WithoutCpuGroupedGemm(() => Layer(DispatchStrategy.Grouped));

        /// <summary>Runs <paramref name="step"/> with MOELAYERS_CPU_GROUPED_GEMM=0 (the documented switch), then restores it.</summary>
        public static void WithoutCpuGroupedGemm(Action step)
        {
            var before = Environment.GetEnvironmentVariable(MklGroupedGemm.Instance.SwitchVariable);
            Environment.SetEnvironmentVariable(MklGroupedGemm.Instance.SwitchVariable, "0");
            try
            {
                step();
            }
            finally
            {
                Environment.SetEnvironmentVariable(MklGroupedGemm.Instance.SwitchVariable, before);
            }
        }

        /// <summary>
        /// Prints one line per case and dtype: median ms and ratio to the floor of its own dtype, all from one run in which
        /// every case of every dtype runs once per round, in turn; first, the step peak memory of the floor, the layer and
        /// the composed layer per dtype (measured before any timing, on a fresh heap). With float32 and bfloat16 cases, then
        /// the bfloat16 step against the float32 step and against its own floor, wall and CPU time.
        /// </summary>
        public static void RunQuick(IReadOnlyList<DispatchCases> dtypes, int warmup, int rounds, bool includeReference)
        {
            foreach (var cases in dtypes)
            {
                if (ProcessMemory.IsSupported) ProcessMemory.TrackingFreedMemory(cases.PrintStepPeaks);
            }
            var names = new List<string> { "floor", "moe", "moe-composed", "moe-grouped", "moe-grouped-perexpert", "moe-padded" };
            if (includeReference) names.Add("loop-reference");
            var steps = dtypes.SelectMany(cases => cases.Steps(includeReference)).ToArray();
            var (wall, cpu) = Timing.InterleavedWallAndCpu(steps, warmup, rounds);
            for (var c = 0; c < dtypes.Count; c++)
            {
                var first = c * names.Count;
                for (var i = 0; i < names.Count; i++)
                {
                    var (w, u) = (wall[first + i], cpu[first + i]);
                    Console.WriteLine($"case={names[i]} dtype={dtypes[c].DTypeName} shape={dtypes[c]._shape} median_ms={w:F2} ratio_to_floor={w / wall[first]:F3} "
                        + $"cpu_ms={u:F2} cpu_ratio_to_floor={u / cpu[first]:F3}");
                }
            }
            var fp32 = dtypes.ToList().FindIndex(c => c.DType == ScalarType.Float32);
            var bf16 = dtypes.ToList().FindIndex(c => c.DType == ScalarType.BFloat16);
            if (fp32 < 0 || bf16 < 0) return;
            var (moe32, moe16, floor16) = (fp32 * names.Count + 1, bf16 * names.Count + 1, bf16 * names.Count);
            Console.WriteLine($"target shape={dtypes[bf16]._shape} bf16_moe_vs_fp32_moe={wall[moe16] / wall[moe32]:F3} (cpu {cpu[moe16] / cpu[moe32]:F3}; target <= 0.55 at large and fine) "
                + $"bf16_moe_vs_bf16_floor={wall[moe16] / wall[floor16]:F3} (cpu {cpu[moe16] / cpu[floor16]:F3}; target <= 1.10 at large)");
        }

        private IEnumerable<Action> Steps(bool includeReference)
        {
            yield return Floor;
            yield return () => Layer(DispatchStrategy.Auto);
            yield return ComposedLayer;
            yield return () => Layer(DispatchStrategy.Grouped);
            yield return PerExpertLayer;
            yield return () => Layer(DispatchStrategy.Padded);
            if (includeReference) yield return () => Layer(DispatchStrategy.Reference);
        }

        /// <summary>Median over 3 repeats of the peak RSS a step adds (activations, temporaries, gradients), per case.</summary>
        private void PrintStepPeaks()
        {
            var cases = new (string Name, Action Step)[] { ("floor", Floor), ("moe", () => Layer(DispatchStrategy.Auto)), ("moe-composed", ComposedLayer) };
            var peaks = ProcessMemory.MedianStepPeaks(cases.Select(c => c.Step).ToArray(), ClearGradients, repeats: 3);
            for (var c = 0; c < cases.Length; c++)
            {
                Console.WriteLine($"memory case={cases[c].Name} dtype={DTypeName} shape={_shape} step_peak_mib={peaks[c] / (1024.0 * 1024.0):F1} "
                    + $"vs_moe_composed={(peaks[c] / peaks[2] - 1) * 100:+0.0;-0.0}%");
            }
        }

        private void ClearGradients()
        {
            foreach (var module in new nn.Module[] { _floor, _composed }.Concat(_layers.Values))
            {
                foreach (var p in module.parameters()) p.grad = null;
            }
            _x.grad = null;
            _floorInput.grad = null;
        }

        public void Dispose()
        {
            _composed.Dispose();
            foreach (var layer in _layers.Values) layer.Dispose();
            _floor.Dispose();
            _x.Dispose();
            _floorInput.Dispose();
        }
    }
}
