using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// DeepSeek-V3 ("deepseek_v3"): the <see cref="DeepseekV3MoeFamily"/> rule; the schedule also reads moe_layer_freq
    /// (transformers' DeepseekV3DecoderLayer tests only first_k_dense_replace; DeepSeek's own modeling code and its
    /// published configs add moe_layer_freq = 1). Defaults: transformers
    /// src/transformers/models/deepseek_v3/configuration_deepseek_v3.py @ 001f85b38fb432858ace93f18622f07cec46d874
    /// (hidden_size 7168, moe_intermediate_size 2048, num_hidden_layers 61, n_routed_experts 256, n_shared_experts 1,
    /// num_experts_per_tok 8, n_group 8, topk_group 4, routed_scaling_factor 2.5, norm_topk_prob true,
    /// first_k_dense_replace 3; num_local_experts is an alias of n_routed_experts).
    /// </summary>
    internal class DeepseekV3Family : DeepseekV3MoeFamily
    {
        /// <summary>transformers' DeepseekV3Config defaults (also those of DeepSeek's own configuration_deepseek.py).</summary>
        internal static readonly DeepseekV3MoeDefaults DeepseekV3Defaults = new(
            Layers: 61, Hidden: 7168, Width: 2048, Experts: 256, SharedExperts: 1, TopK: 8, Groups: 8, KeptGroups: 4,
            FirstDense: 3, ScalingFactor: 2.5, Normalize: true, AuxiliaryLossCoefficient: 0.001);

        public override HfArchitecture Architecture => HfArchitecture.DeepseekV3;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "deepseek_v3" };

        protected override DeepseekV3MoeDefaults Defaults => DeepseekV3Defaults;

        protected override bool ReadsMoeLayerFrequency => true;
    }
}
