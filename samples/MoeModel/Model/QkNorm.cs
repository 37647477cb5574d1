namespace MoeLayers.Samples.MoeModel
{
    /// <summary>Where a family normalizes queries and keys before the rotary embedding.</summary>
    public enum QkNorm
    {
        /// <summary>No QK norm (Mixtral, gpt-oss, GLM-4.5 without use_qk_norm).</summary>
        None,

        /// <summary>RMSNorm of width head_dim on each head (Qwen3-MoE; GLM-4.5 with use_qk_norm).</summary>
        PerHead,

        /// <summary>RMSNorm over the whole q projection and the whole k projection, before the heads are split (OLMoE).</summary>
        WholeProjection,
    }
}
