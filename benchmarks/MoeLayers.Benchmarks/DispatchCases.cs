using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Forward + backward of the MoE layer against its floor: one dense FFN of width h (same activation, no bias)
    /// applied to k·T rows, measured in the same run. The grouped strategy runs twice: with the CPU grouped GEMM (MKL's
    /// batched GEMM, the default where available) and with per-expert products (MOELAYERS_CPU_GROUPED_GEMM=0). Also the
    /// per-expert reference loop.
    /// </summary>
    public sealed class DispatchCases : IDisposable
    {
        private readonly BenchShape _shape;
        private readonly Tensor _x;
        private readonly Tensor _floorInput;
        private readonly nn.Module<Tensor, Tensor> _floor;
        private readonly Dictionary<DispatchStrategy, MoeLayer> _layers = new();
        private readonly MoeLayer _composed;

        public DispatchCases(BenchShape shape)
        {
            _shape = shape;
            manual_seed(0);
            _x = randn(shape.Tokens, shape.Dim).requires_grad_(true);
            _floorInput = randn(shape.Tokens * shape.TopK, shape.Dim).requires_grad_(true);
            _floor = nn.Sequential(
                nn.Linear(shape.Dim, shape.Hidden, hasBias: false),
                nn.GELU(),
                nn.Linear(shape.Hidden, shape.Dim, hasBias: false));
            foreach (var strategy in new[] { DispatchStrategy.Auto, DispatchStrategy.Grouped, DispatchStrategy.Padded, DispatchStrategy.Reference })
            {
                manual_seed(1);
                _layers[strategy] = new MoeLayer(new MoeLayerOptions
                {
                    InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                    Activation = ExpertActivation.Gelu, Dispatch = strategy,
                });
            }
            manual_seed(1);
            _composed = new MoeLayer(new MoeLayerOptions
            {
                InputDim = shape.Dim, HiddenDim = shape.Hidden, NumExperts = shape.Experts, TopK = shape.TopK,
                Activation = ExpertActivation.Gelu, MemoryOptimizedExperts = false,
            });
        }

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
        /// Prints one line per case: median ms and ratio to the floor, all from one interleaved run; first, the step peak
        /// memory of the floor, the layer and the composed layer (measured before any timing, on a fresh heap).
        /// </summary>
        public void RunQuick(int warmup, int rounds, bool includeReference)
        {
            if (ProcessMemory.IsSupported) ProcessMemory.TrackingFreedMemory(PrintStepPeaks);
            var names = new List<string> { "floor", "moe", "moe-composed", "moe-grouped", "moe-grouped-perexpert", "moe-padded" };
            var steps = new List<Action>
            {
                Floor, () => Layer(DispatchStrategy.Auto), ComposedLayer, () => Layer(DispatchStrategy.Grouped), PerExpertLayer,
                () => Layer(DispatchStrategy.Padded),
            };
            if (includeReference)
            {
                names.Add("loop-reference");
                steps.Add(() => Layer(DispatchStrategy.Reference));
            }
            var (wall, cpu) = Timing.InterleavedWallAndCpu(steps.ToArray(), warmup, rounds);
            for (var i = 0; i < names.Count; i++)
            {
                Console.WriteLine($"case={names[i]} shape={_shape} median_ms={wall[i]:F2} ratio_to_floor={wall[i] / wall[0]:F3} "
                    + $"cpu_ms={cpu[i]:F2} cpu_ratio_to_floor={cpu[i] / cpu[0]:F3}");
            }
        }

        /// <summary>Median over 3 repeats of the peak RSS a step adds (activations, temporaries, gradients), per case.</summary>
        private void PrintStepPeaks()
        {
            var cases = new (string Name, Action Step)[] { ("floor", Floor), ("moe", () => Layer(DispatchStrategy.Auto)), ("moe-composed", ComposedLayer) };
            var peaks = ProcessMemory.MedianStepPeaks(cases.Select(c => c.Step).ToArray(), ClearGradients, repeats: 3);
            for (var c = 0; c < cases.Length; c++)
            {
                Console.WriteLine($"memory case={cases[c].Name} shape={_shape} step_peak_mib={peaks[c] / (1024.0 * 1024.0):F1} "
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
