namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The rotary embedding of a model, as config.json gives it: rope_theta, the rotated width (head_dim ·
    /// partial_rotary_factor) and, for YaRN, rope_scaling's fields.
    /// </summary>
    /// <param name="Theta">rope_theta, the base of the frequencies.</param>
    /// <param name="RotaryDim">How many leading channels of each head rotate (even); the rest pass unchanged.</param>
    /// <param name="Yarn">The YaRN scaling, or null for the default rotary embedding.</param>
    public sealed record RopeSettings(double Theta, int RotaryDim, YarnScaling? Yarn);

    /// <summary>rope_scaling with rope_type "yarn" (gpt-oss; long-context Qwen3).</summary>
    /// <param name="Factor">factor: how much the context is stretched.</param>
    /// <param name="OriginalMaxPositions">original_max_position_embeddings (else max_position_embeddings).</param>
    /// <param name="BetaFast">beta_fast (default 32).</param>
    /// <param name="BetaSlow">beta_slow (default 1).</param>
    /// <param name="Truncate">truncate (default true): round the correction range outward to whole dimensions.</param>
    /// <param name="AttentionFactor">attention_factor, scaling cos and sin (default 0.1·ln(factor) + 1).</param>
    public sealed record YarnScaling(double Factor, int OriginalMaxPositions, double BetaFast, double BetaSlow, bool Truncate, double AttentionFactor);
}
