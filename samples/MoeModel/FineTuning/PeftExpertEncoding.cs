namespace MoeLayers.Samples.MoeModel
{
    /// <summary>How <see cref="PeftAdapterFolder"/> writes the routed experts' adapters for a family (both are PEFT's own LoRA format).</summary>
    public enum PeftExpertEncoding
    {
        /// <summary>
        /// One PEFT <c>lora.Linear</c> per expert and projection (<c>target_modules</c>), under the family's per-expert module
        /// names in transformers v4 (mlp.experts.{e}.gate_proj, Mixtral's block_sparse_moe.experts.{e}.w1, …): qwen3_moe,
        /// olmoe, mixtral, glm4_moe. PEFT converts these when it loads them into a transformers v5 model with fused experts.
        /// </summary>
        PerExpertModules,

        /// <summary>
        /// PEFT's <c>lora.ParamWrapper</c> on the fused 3-D parameters (<c>target_parameters</c>): gpt_oss's
        /// mlp.experts.gate_up_proj [E, d, 2h] and mlp.experts.down_proj [E, h, d]. The separate gate and up adapters
        /// (rank r each) are written as one rank-2r adapter of gate_up_proj whose lora_B is block-diagonal (gate ranks
        /// feed only the gate columns, up ranks only the up columns), with rank_pattern 2r and alpha_pattern chosen so
        /// that its scale equals s: exact, as PEFT itself fuses per-expert adapters for transformers v5.
        /// </summary>
        FusedParameters,
    }
}
