using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// dots.llm1 ("dots1"): Dots1MoE, Dots1TopkRouter and Dots1DecoderLayer are DeepseekV3MoE, DeepseekV3TopkRouter and
    /// DeepseekV3DecoderLayer (MoE iff layer_idx ≥ first_k_dense_replace): the <see cref="DeepseekV3MoeFamily"/> rule
    /// (moe_layer_freq not read). Transcribed from transformers src/transformers/models/dots1/modular_dots1.py @
    /// 912f143a14761787ed6b721b33bc65370e17269d; v5 fuses its experts as qwen2_moe (conversion_mapping.py @
    /// 000c33fdfde12e1ffafbfcdb3c926df5727a00b6). Defaults: src/transformers/models/dots1/configuration_dots1.py @
    /// 16a1bdc122229eb06565b56d12f487bdd9604fe5 (hidden_size 4608, num_hidden_layers 62, moe_intermediate_size 1408,
    /// n_group 1, topk_group 1, first_k_dense_replace 0, norm_topk_prob false, routed_scaling_factor 1.0; no
    /// router_aux_loss_coef field, so 0). n_routed_experts, n_shared_experts and num_experts_per_tok default to None
    /// ("a dense model"), on which the MoE block cannot be built, so they are required. A null n_group or topk_group (as
    /// some published dots.llm1 configs write them) is read as absent, i.e. 1: one group holding every expert.
    /// </summary>
    internal sealed class Dots1Family : DeepseekV3MoeFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Dots1;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "dots1" };

        protected override DeepseekV3MoeDefaults Defaults { get; } = new(
            Layers: 62, Hidden: 4608, Width: 1408, Experts: null, SharedExperts: null, TopK: null, Groups: 1, KeptGroups: 1,
            FirstDense: 0, ScalingFactor: 1.0, Normalize: false, AuxiliaryLossCoefficient: 0.0);
    }
}
