using System;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The model's linear projection y = x·Wᵀ + b (state dict: weight [out, in], bias [out] where present, as nn.Linear),
    /// which a fine-tune can give a LoRA adapter (<see cref="AddAdapter"/>): y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ with lora_A.weight
    /// A [r, in] and lora_B.weight B [out, r] — PEFT's Linear, under PEFT's names less its adapter name, so the adapter's
    /// keys are the published module path + ".lora_A.weight" / ".lora_B.weight".
    /// </summary>
    /// <remarks>
    /// A is drawn as PEFT draws it (kaiming_uniform with a = √5: uniform ±1/√in), B starts at zero, so the adapted
    /// projection computes the base one until B is trained. The adapters are float32 whatever the weight's dtype; a forward
    /// casts them to the input's dtype (one dtype per product), and the cast's backward hands float32 gradients to them.
    /// </remarks>
    public sealed class AdaptableLinear : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "weight")]
        private readonly Parameter _weight;

        [ComponentName(Name = "bias")]
        private readonly Parameter? _bias;

        private Linear? _loraA;
        private Linear? _loraB;

        /// <summary>Creates the projection in → out with fresh weights (nn.Linear's initialization), frozen.</summary>
        /// <param name="inFeatures">Input width.</param>
        /// <param name="outFeatures">Output width.</param>
        /// <param name="hasBias">Whether the projection has a bias.</param>
        /// <param name="dtype">The weights' dtype.</param>
        public AdaptableLinear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype) : base("linear")
        {
            using (var init = nn.Linear(inFeatures, outFeatures, hasBias, dtype: dtype))
            {
                // detach(): new handles on the same storage, which outlive the disposed Linear's.
                _weight = new Parameter(init.weight!.detach(), requires_grad: false);
                if (hasBias) _bias = new Parameter(init.bias!.detach(), requires_grad: false);
            }
            RegisterComponents();
        }

        /// <summary>The weight W [out, in].</summary>
        public Parameter Weight => _weight;

        /// <summary>Whether the projection carries a LoRA adapter.</summary>
        public bool HasAdapter => _loraA is not null;

        /// <summary>The adapter's scale s (0 without an adapter).</summary>
        public double Scale { get; private set; }

        /// <summary>The adapter's rank r (0 without an adapter).</summary>
        public long Rank => _loraA?.weight!.shape[0] ?? 0;

        /// <summary>y = x·Wᵀ + b, plus s·(x·Aᵀ)·Bᵀ with an adapter.</summary>
        public override Tensor forward(Tensor input)
        {
            if (_loraA is null) return nn.functional.linear(input, _weight, _bias);
            using var scope = NewDisposeScope();
            var down = nn.functional.linear(input, _loraA.weight!.to(input.dtype));
            var update = nn.functional.linear(down, _loraB!.weight!.to(input.dtype));
            return (nn.functional.linear(input, _weight, _bias) + update * Scale).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Adds a trainable float32 adapter of rank <paramref name="rank"/> and scale <paramref name="scale"/> (B zero, so
        /// the function is unchanged), on the weight's device; the weight and bias stay as they are.
        /// </summary>
        /// <param name="rank">r ≥ 1.</param>
        /// <param name="scale">s, finite.</param>
        public void AddAdapter(int rank, double scale)
        {
            if (_loraA is not null) throw new InvalidOperationException("the projection has a LoRA adapter already.");
            if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "the LoRA rank must be at least 1.");
            if (!double.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "the LoRA scale must be finite.");
            long outFeatures = _weight.shape[0], inFeatures = _weight.shape[1];
            var dtype = _weight.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
            var loraA = nn.Linear(inFeatures, rank, hasBias: false, device: _weight.device, dtype: dtype);
            var loraB = nn.Linear(rank, outFeatures, hasBias: false, device: _weight.device, dtype: dtype);
            using (no_grad()) loraB.weight!.zero_();
            foreach (var parameter in new[] { loraA.weight!, loraB.weight! }) parameter.DetachFromDisposeScope();
            register_module("lora_A", loraA);
            register_module("lora_B", loraB);
            (_loraA, _loraB, Scale) = (loraA, loraB, scale);
        }

        /// <summary>
        /// Folds the adapter into the weight (W += s·B·A, computed in float32 and rounded once to W's dtype) and removes it;
        /// the projection is then a plain one with the state dict of nn.Linear.
        /// </summary>
        public void MergeAdapter()
        {
            if (_loraA is null) throw new InvalidOperationException("the projection has no LoRA adapter to merge.");
            using (no_grad())
            using (NewDisposeScope())
            {
                var delta = _loraB!.weight!.to(ScalarType.Float32).matmul(_loraA.weight!.to(ScalarType.Float32)) * Scale;
                _weight.copy_((_weight.to(ScalarType.Float32) + delta).to(_weight.dtype));
            }
            _internal_submodules.Remove("lora_A");
            _internal_submodules.Remove("lora_B");
            _loraA.Dispose();
            _loraB.Dispose();
            (_loraA, _loraB, Scale) = (null, null, 0);
        }
    }
}
