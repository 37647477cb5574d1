using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// GLM-4.5 / 4.6 / 4.7 MoE ("glm4_moe"): Glm4MoeMoE is DeepseekV3MoE under another name (Glm4MoeTopkRouter's float32
    /// logits, sigmoid, e_score_correction_bias, n_group / topk_group with top-two group scores, weights / (sum + 1e-20)
    /// when norm_topk_prob, × routed_scaling_factor; shared_experts of width moe_intermediate_size × n_shared_experts), and
    /// Glm4MoeDecoderLayer is MoE iff layer_idx ≥ first_k_dense_replace: the <see cref="DeepseekV3MoeFamily"/> rule
    /// (moe_layer_freq not read). Transcribed from transformers src/transformers/models/glm4_moe/modeling_glm4_moe.py @
    /// 000c33fdfde12e1ffafbfcdb3c926df5727a00b6; v5 fuses its experts as qwen2_moe (conversion_mapping.py @ the same
    /// commit). Defaults: src/transformers/models/glm4_moe/configuration_glm4_moe.py @
    /// c7ec229ad64cdcf0176f669969c66c9a652e7f38 (hidden_size 4096, num_hidden_layers 46, moe_intermediate_size 1408,
    /// n_routed_experts 128, n_shared_experts 1, num_experts_per_tok 8, n_group 1, topk_group 1, routed_scaling_factor
    /// 1.0, norm_topk_prob true, first_k_dense_replace 1; no router_aux_loss_coef field, so 0). The GLM configuration has
    /// no scoring_func or topk_method; one present with another value than DeepSeek's is refused as for DeepSeek-V3.
    /// </summary>
    internal sealed class Glm4MoeFamily : DeepseekV3MoeFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Glm4Moe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "glm4_moe" };

        protected override DeepseekV3MoeDefaults Defaults { get; } = new(
            Layers: 46, Hidden: 4096, Width: 1408, Experts: 128, SharedExperts: 1, TopK: 8, Groups: 1, KeptGroups: 1,
            FirstDense: 1, ScalingFactor: 1.0, Normalize: true, AuxiliaryLossCoefficient: 0.0);
    }
}
