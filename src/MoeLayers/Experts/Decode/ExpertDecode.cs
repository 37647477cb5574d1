using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The decode path of the expert MLP: for a few rows per expert, each active expert's w_in, w_gate and w_out are
    /// streamed once through <see cref="ExpertGemv"/> (float32 activations and accumulation), threads split over
    /// experts × output-column slabs. H = x·W_in (+ b_in) and G = x·W_gate (+ b_gate) for all active experts, then
    /// A = act(H, G) by <see cref="ActivationFunction.Apply"/> (float32, one call for all rows), then Y = A·W_out (+ b_out),
    /// returned in the rows' dtype. No autograd graph: <see cref="Applies"/> takes only calls that need none.
    /// </summary>
    internal static class ExpertDecode
    {
        /// <summary>
        /// The decode path runs when the experts with rows have at most this many on average, by the weights' element
        /// type: 4 for float32, 2 for bfloat16, 8 for int8 (T = 1 gives one row per routed expert; T = 8 over 64 or 128
        /// experts 1.2–1.5 on average, a few experts 3). Beyond it the grouped products' blocked GEMMs reuse each loaded
        /// weight over enough rows that the kernels' per-row accumulation stops paying. Measured (`--quick
        /// decode-bandwidth`, threshold lines: the fine shape, every expert given r rows, caches flushed, 2 cores): float32
        /// kernels against MKL's batched GEMM 0.70× at 4 rows, 1.06× at 8; bfloat16 against libtorch's padded bmm 0.95× at
        /// 2, 1.68× at 4; int8 has no grouped GEMM of its own (its grouped path dequantizes first) and its kernels were
        /// 7× faster at T = 8. The mean, not the largest count, is what the kernels' time follows: at the Qwen3-30B-A3B
        /// shape, T = 8 in bfloat16 (52 experts, the largest holding 3 rows) took 23 ms in the kernels against 38 ms grouped.
        /// </summary>
        /// <param name="weights">The element type of the experts' weights.</param>
        public static double MaxRowsPerExpert(ScalarType weights) => weights switch
        {
            ScalarType.BFloat16 => 2,
            ScalarType.Int8 => 8,
            _ => 4,
        };

        /// <summary>No expert may have more rows than this: the kernels keep every row's output slab in L1.</summary>
        public const int RowCap = 16;

        /// <summary>Environment variable that turns the decode path off when set to 0 (read per call).</summary>
        public const string SwitchVariable = "MOELAYERS_CPU_DECODE";

        /// <summary>Output floats one work item keeps in L1 (n rows × slab columns): 16 KiB.</summary>
        private const int SlabFloats = 4096;

        /// <summary>
        /// The rule, per call: the rows are on the CPU, there is at least one row, the experts with rows have at most
        /// <see cref="MaxRowsPerExpert"/> of the weights' element type on average and none more than <see cref="RowCap"/>, every weight is a contiguous float32, bfloat16 or
        /// int8 tensor, no autograd graph is needed (gradients disabled, or neither the rows nor any weight requires them),
        /// and <see cref="SwitchVariable"/> is not 0. Otherwise the bank runs its grouped path.
        /// </summary>
        /// <param name="rows">Expert-contiguous rows [M, d].</param>
        /// <param name="counts">Rows of each expert.</param>
        /// <param name="weights">Every tensor the kernels would read, the input projection's weight first (its element type sets the row limit), then the others (weights, scales, biases).</param>
        public static bool Applies(Tensor rows, long[] counts, IEnumerable<Tensor?> weights)
        {
            if (rows.device_type != DeviceType.CPU || rows.shape[0] == 0 || counts.Length == 0) return false;
            if (weights.FirstOrDefault() is not { } inputWeight || counts.Max() > RowCap) return false;
            var active = counts.Count(c => c > 0);
            if (active == 0 || (double)counts.Sum() / active > MaxRowsPerExpert(inputWeight.dtype)) return false;
            if (rows.dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16)) return false;
            if (Environment.GetEnvironmentVariable(SwitchVariable) == "0") return false;
            var gradients = is_grad_enabled();
            if (gradients && rows.requires_grad) return false;
            foreach (var tensor in weights)
            {
                if (tensor is null) continue;
                if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous()) return false;
                if (tensor.dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Int8)) return false;
                if (gradients && tensor.requires_grad) return false;
            }
            return true;
        }

        /// <summary>
        /// Rows sorted by expert [M, d] with per-expert <paramref name="counts"/> → [M, out] in the rows' dtype:
        /// act(x·W_in (+ b_in) [, x·W_gate (+ b_gate)])·W_out (+ b_out) per expert.
        /// </summary>
        /// <param name="rows">Expert-contiguous rows [M, d] on the CPU.</param>
        /// <param name="counts">Rows of each expert (E values summing to M).</param>
        /// <param name="input">w_in [E, d, h] with its scale and bias.</param>
        /// <param name="gate">w_gate [E, d, h] with its scale and bias (gated activations), or null.</param>
        /// <param name="output">w_out [E, h, out] with its scale and bias.</param>
        /// <param name="activation">The hidden activation.</param>
        /// <param name="width">Kernel width; null for the widest this CPU runs.</param>
        public static Tensor Run(Tensor rows, long[] counts, DecodeProjection input, DecodeProjection? gate, DecodeProjection output,
            ActivationFunction activation, GemvWidth? width = null)
        {
            using var scope = NewDisposeScope();
            var kernelWidth = width ?? ExpertGemv.Widest;
            var groups = Groups(counts);
            var x = rows.to(ScalarType.Float32).contiguous();
            var total = rows.shape[0];
            var hidden = empty(total, input.OutDim, ScalarType.Float32);
            var gateHidden = gate is null ? null : empty(total, gate.Value.OutDim, ScalarType.Float32);
            var first = new List<(DecodeProjection, Tensor)> { (input, hidden) };
            if (gate is { } g) first.Add((g, gateHidden!));
            Project(x, groups, first, kernelWidth);
            var activated = activation.Apply(hidden, gateHidden).contiguous();
            var result = empty(total, output.OutDim, ScalarType.Float32);
            Project(activated, groups, new List<(DecodeProjection, Tensor)> { (output, result) }, kernelWidth);
            return result.to(rows.dtype).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// One projection alone: rows sorted by expert [M, in] with per-expert <paramref name="counts"/> → float32 [M, out],
        /// group e's rows times expert e's matrix (then ·scale, + bias), by the kernels of <paramref name="width"/>.
        /// </summary>
        /// <param name="rows">Expert-contiguous rows [M, in] on the CPU.</param>
        /// <param name="counts">Rows of each expert.</param>
        /// <param name="projection">Stacked weights with their scale and bias.</param>
        /// <param name="width">Kernel width; null for the widest this CPU runs.</param>
        public static Tensor Products(Tensor rows, long[] counts, DecodeProjection projection, GemvWidth? width = null)
        {
            using var scope = NewDisposeScope();
            var x = rows.to(ScalarType.Float32).contiguous();
            var result = empty(rows.shape[0], projection.OutDim, ScalarType.Float32);
            Project(x, Groups(counts), new List<(DecodeProjection, Tensor)> { (projection, result) }, width ?? ExpertGemv.Widest);
            return result.MoveToOuterDisposeScope();
        }

        /// <summary>The experts with rows: (expert, first row, rows).</summary>
        private static List<(int Expert, long First, int Rows)> Groups(long[] counts)
        {
            var groups = new List<(int, long, int)>();
            long first = 0;
            for (var e = 0; e < counts.Length; e++)
            {
                if (counts[e] > 0) groups.Add((e, first, (int)counts[e]));
                first += counts[e];
            }
            return groups;
        }

        /// <summary>
        /// targets[p] = x·W_p per expert group for every projection p (all reading x [M, in]), split into work items of one
        /// (projection, expert, column slab) each, run on libtorch's intra-op threads (<see cref="IntraOpThreads"/>).
        /// </summary>
        private static unsafe void Project(Tensor x, List<(int Expert, long First, int Rows)> groups,
            List<(DecodeProjection Projection, Tensor Target)> projections, GemvWidth width)
        {
            if (groups.Count == 0) return;
            var maxRows = groups.Max(g => g.Rows);
            var inDim = (int)x.shape[1];
            var xAddress = TensorMemory.Address(x);
            var plans = projections.Select(p => new ProjectionAddresses(p.Projection, p.Target)).ToList();
            var items = new List<(int Projection, int Group, int C0, int C1)>();
            var wanted = 2 * Environment.ProcessorCount;
            for (var p = 0; p < plans.Count; p++)
            {
                var columns = plans[p].OutDim;
                var slabs = Math.Max((columns * maxRows + SlabFloats - 1) / SlabFloats, (wanted + groups.Count * plans.Count - 1) / (groups.Count * plans.Count));
                var slab = Math.Max(16, (columns / slabs + 15) / 16 * 16);
                for (var gi = 0; gi < groups.Count; gi++)
                {
                    for (var c0 = 0; c0 < columns; c0 += slab) items.Add((p, gi, c0, Math.Min(columns, c0 + slab)));
                }
            }
            IntraOpThreads.For(items.Count, i =>
            {
                var (p, gi, c0, c1) = items[i];
                var plan = plans[p];
                var (expert, first, rows) = groups[gi];
                var xRows = (float*)xAddress + first * inDim;
                var y = (float*)plan.Target + first * plan.OutDim;
                var weights = (byte*)plan.Weight + expert * plan.ExpertBytes;
                var scale = plan.Scale == IntPtr.Zero ? null : (float*)plan.Scale + (long)expert * plan.OutDim;
                var bias = plan.Bias == IntPtr.Zero ? null : (float*)plan.Bias + (long)expert * plan.OutDim;
                switch (plan.Element)
                {
                    case ScalarType.Float32:
                        ExpertGemv.Multiply<Float32Element>(width, xRows, rows, inDim, weights, plan.OutDim, c0, c1, scale, bias, y);
                        break;
                    case ScalarType.BFloat16:
                        ExpertGemv.Multiply<BFloat16Element>(width, xRows, rows, inDim, weights, plan.OutDim, c0, c1, scale, bias, y);
                        break;
                    default:
                        ExpertGemv.Multiply<Int8Element>(width, xRows, rows, inDim, weights, plan.OutDim, c0, c1, scale, bias, y);
                        break;
                }
            });
            GC.KeepAlive(plans);
        }

        /// <summary>Raw addresses of one projection's tensors (float32 scale and bias, made in the caller's dispose scope).</summary>
        private sealed class ProjectionAddresses
        {
            public ProjectionAddresses(DecodeProjection projection, Tensor target)
            {
                if (projection.InDim <= 0 || target.shape[1] != projection.OutDim)
                    throw new ArgumentException($"Projection [E, {projection.InDim}, {projection.OutDim}] does not match its output {Guard.Shape(target)}.", nameof(projection));
                Element = projection.Weight.dtype;
                if (Element is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Int8))
                    throw new ArgumentException($"Decode kernels read float32, bfloat16 or int8 weights; got {Element}.", nameof(projection));
                if ((Element == ScalarType.Int8) != (projection.Scale is not null))
                    throw new ArgumentException("int8 weights need their per-output-channel scales, and only int8 weights have them.", nameof(projection));
                OutDim = projection.OutDim;
                ExpertBytes = projection.ExpertBytes;
                WeightTensor = projection.Weight.contiguous();
                Weight = TensorMemory.Address(WeightTensor);
                ScaleTensor = projection.Scale?.to(ScalarType.Float32).contiguous();
                Scale = ScaleTensor is null ? IntPtr.Zero : TensorMemory.Address(ScaleTensor);
                BiasTensor = projection.Bias?.to(ScalarType.Float32).contiguous();
                Bias = BiasTensor is null ? IntPtr.Zero : TensorMemory.Address(BiasTensor);
                Target = TensorMemory.Address(target);
            }

            public ScalarType Element { get; }

            public int OutDim { get; }

            public long ExpertBytes { get; }

            public IntPtr Weight { get; }

            public IntPtr Scale { get; }

            public IntPtr Bias { get; }

            public IntPtr Target { get; }

            // Held so the addresses stay valid while the kernels run.
            private Tensor WeightTensor { get; }

            private Tensor? ScaleTensor { get; }

            private Tensor? BiasTensor { get; }
        }
    }
}
