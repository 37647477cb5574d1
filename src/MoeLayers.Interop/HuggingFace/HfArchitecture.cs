namespace MoeLayers.Interop
{
    /// <summary>The Hugging Face model families whose sparse-MoE block MoeLayers reads and writes.</summary>
    public enum HfArchitecture
    {
        /// <summary>Mixtral (model_type "mixtral"): block_sparse_moe.gate, experts.{i}.w1 (gate) / w3 (up) / w2 (down).</summary>
        Mixtral,

        /// <summary>Qwen2-MoE ("qwen2_moe"): mlp.gate, mlp.experts.{i}.*_proj, mlp.shared_expert.*, mlp.shared_expert_gate.</summary>
        Qwen2Moe,

        /// <summary>Qwen3-MoE ("qwen3_moe"): mlp.gate, mlp.experts.{i}.gate_proj / up_proj / down_proj.</summary>
        Qwen3Moe,

        /// <summary>OLMoE ("olmoe"): mlp.gate, mlp.experts.{i}.gate_proj / up_proj / down_proj.</summary>
        Olmoe,

        /// <summary>DeepSeek-V3 ("deepseek_v3"): mlp.gate (+ e_score_correction_bias), mlp.experts.{i}.*, mlp.shared_experts.*.</summary>
        DeepseekV3,

        /// <summary>Qwen3-Next ("qwen3_next"): mlp.gate, mlp.experts.{i}.*_proj, mlp.shared_expert.*, mlp.shared_expert_gate.</summary>
        Qwen3Next,

        /// <summary>Qwen3.5-MoE ("qwen3_5_moe", text model under text_config): model.language_model.layers.{i}.mlp.gate, mlp.experts.gate_up_proj / down_proj, mlp.shared_expert.*, mlp.shared_expert_gate.</summary>
        Qwen35Moe,

        /// <summary>ERNIE 4.5 MoE ("ernie4_5_moe"): mlp.gate (float32), mlp.moe_statics.e_score_correction_bias [1, E], mlp.experts.{i}.*_proj, mlp.shared_experts.*.</summary>
        Ernie45Moe,

        /// <summary>Granite MoE ("granitemoe"): block_sparse_moe.router.layer, block_sparse_moe.input_linear [E, 2h, d] (gate rows first) / output_linear [E, d, h].</summary>
        GraniteMoe,

        /// <summary>Granite MoE with a shared MLP ("granitemoeshared"): as <see cref="GraniteMoe"/>, plus shared_mlp.input_linear [2w, d] / output_linear beside the block.</summary>
        GraniteMoeShared,
    }
}
