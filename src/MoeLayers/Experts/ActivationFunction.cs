using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// An expert's hidden activation as one value: the kind and, for <see cref="ExpertActivation.ClampedSwiGlu"/>, its α
    /// and limit. The one place that applies it: the routed experts (composed, memory-optimized forward and the
    /// backward's recomputation alike), the reference loop and the shared experts all call <see cref="Apply"/>.
    /// </summary>
    /// <param name="Kind">Which activation.</param>
    /// <param name="Alpha">α of the clamped SwiGLU (σ(α·G)); unused by the other kinds.</param>
    /// <param name="Limit">Limit of the clamped SwiGLU; unused by the other kinds.</param>
    internal readonly record struct ActivationFunction(ExpertActivation Kind, double Alpha = MoeLayerOptions.DefaultSwiGluAlpha,
        double Limit = MoeLayerOptions.DefaultSwiGluLimit)
    {
        /// <summary>The kind with gpt-oss's constants (they matter to <see cref="ExpertActivation.ClampedSwiGlu"/> only).</summary>
        /// <param name="kind">Which activation.</param>
        public static implicit operator ActivationFunction(ExpertActivation kind) => new(kind);

        /// <summary>The activation validated options describe.</summary>
        /// <param name="options">Layer options.</param>
        public static ActivationFunction From(MoeLayerOptions options) => new(options.Activation, options.SwiGluAlpha, options.SwiGluLimit);

        /// <summary>Whether it reads a gate projection G next to the hidden H (and so the experts hold W_gate).</summary>
        public bool IsGated => Kind is ExpertActivation.SwiGlu or ExpertActivation.ClampedSwiGlu;

        /// <summary>
        /// A = act(H [, G]) as a new tensor, with autograd through it when its inputs require gradients: ReLU(H), GELU(H),
        /// ReLU(H)², SiLU(G) ⊙ H, or gpt-oss's clamped form (H' + 1) ⊙ G' ⊙ σ(α·G') with G' = min(G, limit) and
        /// H' = clamp(H, −limit, limit), in that order of operations (transformers, models/gpt_oss/modeling_gpt_oss.py,
        /// GptOssExperts.forward, commit 6edf5b311854175ff83c59179b3360beca1ceffc).
        /// </summary>
        /// <param name="hidden">H = x·W_in (+ b_in) [n, h].</param>
        /// <param name="gate">G = x·W_gate (+ b_gate) [n, h] for the gated kinds, else null.</param>
        public Tensor Apply(Tensor hidden, Tensor? gate)
        {
            if (IsGated && gate is null) throw new ArgumentNullException(nameof(gate), $"{Kind} needs the gate projection.");
            // Intermediates are released as soon as the result exists (autograd keeps what it saved).
            using var scope = NewDisposeScope();
            var activated = Kind switch
            {
                ExpertActivation.Relu => nn.functional.relu(hidden),
                ExpertActivation.Gelu => nn.functional.gelu(hidden),
                ExpertActivation.ReluSquared => nn.functional.relu(hidden).square(),
                ExpertActivation.SwiGlu => nn.functional.silu(gate!) * hidden,
                ExpertActivation.ClampedSwiGlu => ClampedSwiGlu(hidden, gate!),
                _ => throw new InvalidOperationException($"Unknown activation {Kind}."),
            };
            return activated.MoveToOuterDisposeScope();
        }

        private Tensor ClampedSwiGlu(Tensor hidden, Tensor gate)
        {
            var clampedGate = gate.clamp_max(Limit);
            var glu = clampedGate * (clampedGate * Alpha).sigmoid();
            return (hidden.clamp(-Limit, Limit) + 1) * glu;
        }
    }
}
