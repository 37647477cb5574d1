using System;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The LoRA adapters of an experts part (<see cref="MoeLayerOptions.Lora"/>): for each adapted projection W [.., in, out]
    /// (weights stored for x·W), a down matrix A [.., in, r] and an up matrix B [.., r, out], so the projection computes
    /// x·W + s·(x·A)·B, s = α/r (α/√r rsLoRA). The leading dimension is E for the routed experts and absent for the shared
    /// experts' dense FFN. State-dict names a_in, b_in, a_gate, b_gate, a_out, b_out. PEFT's convention, for a Linear
    /// y = x·Wᵀ with lora_A.weight [r, in] and lora_B.weight [out, r], is the same update with A = lora_A.weightᵀ and
    /// B = lora_B.weightᵀ. A is drawn as nn.Linear draws a weight of fan-in <c>in</c> (uniform ±1/√in, PEFT's default
    /// kaiming_uniform(a = √5)); B starts at zero.
    /// <para>
    /// The parameters are float32 (float64 under a float64 model) whatever dtype the model is converted to, so small
    /// updates accumulate without bfloat16 rounding. A forward casts them to the rows' dtype (<see cref="Updates"/>) and
    /// runs the update through the same grouped products as the base weights: one dtype per product is what MKL's and
    /// cuBLAS's grouped GEMMs take, and the backward keeps no float32 copy of the rows; the cast's backward hands the
    /// gradients to the float32 parameters.
    /// </para>
    /// </summary>
    internal sealed class LoraAdapters : nn.Module
    {
        [ComponentName(Name = "a_in")]
        private readonly Parameter? _aIn;

        [ComponentName(Name = "b_in")]
        private readonly Parameter? _bIn;

        [ComponentName(Name = "a_gate")]
        private readonly Parameter? _aGate;

        [ComponentName(Name = "b_gate")]
        private readonly Parameter? _bGate;

        [ComponentName(Name = "a_out")]
        private readonly Parameter? _aOut;

        [ComponentName(Name = "b_out")]
        private readonly Parameter? _bOut;

        /// <summary>Creates the adapters of the projections <paramref name="options"/> names.</summary>
        /// <param name="lead">The leading shape: [E] for routed experts, [] for the shared experts.</param>
        /// <param name="inputDim">Input width d.</param>
        /// <param name="hiddenDim">Hidden width h.</param>
        /// <param name="outputDim">Output width.</param>
        /// <param name="gated">Whether the experts have a gate projection.</param>
        /// <param name="options">Rank, scale and projections.</param>
        /// <param name="name">Module name.</param>
        public LoraAdapters(long[] lead, int inputDim, int hiddenDim, int outputDim, bool gated, LoraOptions options, string name = "lora")
            : base(TorchSharpNative.Checked(name))
        {
            ArgumentNullException.ThrowIfNull(options);
            Guard.Positive(options.Rank, nameof(options));
            Rank = options.Rank;
            Scale = options.Scale;
            var projections = options.Projections;
            if (projections.HasFlag(LoraProjections.Input)) (_aIn, _bIn) = Pair(lead, inputDim, hiddenDim);
            if (gated && projections.HasFlag(LoraProjections.Gate)) (_aGate, _bGate) = Pair(lead, inputDim, hiddenDim);
            if (projections.HasFlag(LoraProjections.Output)) (_aOut, _bOut) = Pair(lead, hiddenDim, outputDim);
            RegisterComponents();
        }

        /// <summary>Rank r.</summary>
        public int Rank { get; }

        /// <summary>The scale s of the update.</summary>
        public double Scale { get; }

        /// <summary>Whether <see cref="Fold"/> has added the updates to the base weights (forwards then leave them out).</summary>
        public bool Merged { get; private set; }

        /// <summary>
        /// The updates for a forward on rows of <paramref name="dtype"/>, or null while merged (the weights hold them). A
        /// training forward with gradients while merged throws: the adapters would get no gradient.
        /// </summary>
        /// <param name="dtype">The rows' dtype.</param>
        public AdapterUpdates? Updates(ScalarType dtype)
        {
            if (!Merged) return new AdapterUpdates(Update(_aIn, _bIn, dtype), Update(_aGate, _bGate, dtype), Update(_aOut, _bOut, dtype));
            if (training && is_grad_enabled())
                throw new InvalidOperationException(
                    "The LoRA adapters are merged into the expert weights (MoeLora.Merge): a training forward would not reach them. " +
                    "Call MoeLora.Unmerge before training, or eval() to evaluate the merged layer.");
            return null;
        }

        /// <summary>
        /// Adds (<paramref name="merge"/>) or subtracts s·A·B, computed in the adapters' dtype, to each adapted weight in its
        /// own dtype, and records whether the weights now hold the updates. Throws if they already do (or do not).
        /// </summary>
        /// <param name="inputWeight">w_in.</param>
        /// <param name="gateWeight">w_gate, or null.</param>
        /// <param name="outputWeight">w_out.</param>
        /// <param name="merge">True to merge, false to unmerge.</param>
        public void Fold(Tensor inputWeight, Tensor? gateWeight, Tensor outputWeight, bool merge)
        {
            if (Merged == merge)
                throw new InvalidOperationException(merge ? "The LoRA adapters are merged already." : "The LoRA adapters are not merged.");
            AddTo(inputWeight, gateWeight, outputWeight, merge ? 1 : -1);
            Merged = merge;
        }

        /// <summary>
        /// Adds sign·s·A·B, computed in the adapters' dtype, to each adapted weight in its own dtype and on its device
        /// (weights of another layer of the same shapes too: <see cref="MoeLora.MergeAndUnload"/>).
        /// </summary>
        /// <param name="inputWeight">w_in.</param>
        /// <param name="gateWeight">w_gate, or null.</param>
        /// <param name="outputWeight">w_out.</param>
        /// <param name="sign">+1 or −1.</param>
        public void AddTo(Tensor inputWeight, Tensor? gateWeight, Tensor outputWeight, int sign)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            foreach (var (weight, a, b) in new[] { (inputWeight, _aIn, _bIn), (gateWeight, _aGate, _bGate), (outputWeight, _aOut, _bOut) })
            {
                if (weight is null || a is null || b is null) continue;
                var delta = a.matmul(b).mul_(sign * Scale);
                weight.add_(delta.to(weight.dtype, weight.device));
            }
        }

        /// <summary>The weights were reloaded from a state dict: they no longer hold the updates.</summary>
        public void MarkUnmerged() => Merged = false;

        /// <summary>The adapters keep float32 (float64 under a float64 model) under a conversion to a narrower dtype.</summary>
        protected override nn.Module _to(ScalarType dtype, bool non_blocking) => base._to(Kept(dtype), non_blocking);

        /// <summary>Moves to <paramref name="device"/> keeping at least float32.</summary>
        protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking) => base._to(device, Kept(dtype), non_blocking);

        private static ScalarType Kept(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

        private LowRankUpdate? Update(Parameter? a, Parameter? b, ScalarType dtype) =>
            a is null || b is null ? null : new LowRankUpdate(a.to(dtype), (b * Scale).to(dtype));

        private (Parameter A, Parameter B) Pair(long[] lead, int inDim, int outDim) =>
            (Init.Parameter(Init.Uniform(inDim, [.. lead, inDim, Rank])), Init.Parameter(zeros([.. lead, Rank, outDim], ScalarType.Float32)));
    }
}
