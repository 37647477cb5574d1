namespace MoeLayers
{
    /// <summary>
    /// Activation of an expert's hidden layer. The gated activations (<see cref="SwiGlu"/>, <see cref="ClampedSwiGlu"/>)
    /// read two projections of the input: the gate G = x·W_gate (+ b_gate) and the hidden H = x·W_in (+ b_in); the others
    /// read H alone.
    /// </summary>
    public enum ExpertActivation
    {
        /// <summary>max(0, x·W_in)·W_out.</summary>
        Relu,

        /// <summary>GELU(x·W_in)·W_out (exact erf form).</summary>
        Gelu,

        /// <summary>(SiLU(x·W_gate) ⊙ x·W_in)·W_out, as in Llama and Mixtral.</summary>
        SwiGlu,

        /// <summary>
        /// gpt-oss's clamped SwiGLU: with G = min(x·W_gate + b_gate, limit) and H = clamp(x·W_in + b_in, −limit, limit),
        /// ((H + 1) ⊙ G ⊙ σ(α·G))·W_out, α = <see cref="MoeLayerOptions.SwiGluAlpha"/> and limit =
        /// <see cref="MoeLayerOptions.SwiGluLimit"/> (Hugging Face transformers, models/gpt_oss/modeling_gpt_oss.py,
        /// GptOssExperts.forward, commit 6edf5b311854175ff83c59179b3360beca1ceffc; W_gate is the even columns of its
        /// gate_up_proj, W_in the odd ones).
        /// </summary>
        ClampedSwiGlu,

        /// <summary>
        /// max(0, x·W_in)²·W_out, not gated: Nemotron-H's experts (up_proj and down_proj only, transformers'
        /// ACT2FN["relu2"], ReLUSquaredActivation: square(relu(x))).
        /// </summary>
        ReluSquared,
    }
}
