using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Kimi K2 ("kimi_k2"): DeepSeek-V3's architecture under its own model_type. The published config.json of
    /// moonshotai/Kimi-K2-Instruct and Kimi-K2-Base names architectures ["DeepseekV3ForCausalLM"] and maps AutoConfig /
    /// AutoModelForCausalLM to DeepSeek's configuration_deepseek.DeepseekV3Config / modeling_deepseek.DeepseekV3ForCausalLM,
    /// and Moonshot's deployment guide says model_type "kimi_k2" only lets engines tell it apart (renaming it
    /// "deepseek_v3" runs it unchanged); transformers has no kimi_k2 model_type. So the block, its defaults and its
    /// schedule are <see cref="DeepseekV3Family"/>'s (published values: n_routed_experts 384, num_experts_per_tok 8,
    /// n_group 1, topk_group 1, routed_scaling_factor 2.827, first_k_dense_replace 1, n_shared_experts 1). Only the
    /// per-expert layout: no transformers v5 conversion exists for this model_type, so a fused kimi_k2 folder would be
    /// one no published loader reads.
    /// </summary>
    internal sealed class KimiK2Family : DeepseekV3Family
    {
        public override HfArchitecture Architecture => HfArchitecture.KimiK2;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "kimi_k2" };

        protected override IReadOnlyList<HfExpertsCodec> ExpertLayouts { get; } =
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj") };
    }
}
