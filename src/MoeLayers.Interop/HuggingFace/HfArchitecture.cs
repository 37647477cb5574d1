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

        /// <summary>Jamba ("jamba"): feed_forward.router, feed_forward.experts.{i}.gate_proj / up_proj / down_proj; MoE every expert_layer_period layers.</summary>
        Jamba,

        /// <summary>DBRX ("dbrx"): transformer.blocks.{i}.ffn.router.layer, ffn.experts.mlp.w1 / v1 / w2 flattened [E·h, d].</summary>
        Dbrx,

        /// <summary>Kimi K2 ("kimi_k2"): DeepSeek-V3's block and key names under Moonshot's model_type (per-expert layout only).</summary>
        KimiK2,

        /// <summary>GLM-4.5/4.6/4.7 MoE ("glm4_moe"): DeepSeek-V3's block; mlp.gate (+ e_score_correction_bias), mlp.experts.{i}.*, mlp.shared_experts.*.</summary>
        Glm4Moe,

        /// <summary>dots.llm1 ("dots1"): DeepSeek-V3's block; mlp.gate (+ e_score_correction_bias), mlp.experts.{i}.*, mlp.shared_experts.*.</summary>
        Dots1,

        /// <summary>MiniMax-M2 ("minimax_m2"): block_sparse_moe.gate, block_sparse_moe.e_score_correction_bias, block_sparse_moe.experts.{i}.w1 / w3 / w2.</summary>
        MiniMaxM2,

        /// <summary>Hunyuan MoE ("hunyuan_v1_moe"): mlp.gate.wg, mlp.experts.{i}.*_proj, mlp.shared_mlp.*.</summary>
        HunyuanV1Moe,

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

        /// <summary>gpt-oss ("gpt_oss"): mlp.router.weight / bias, mlp.experts.gate_up_proj [E, d, 2h] (gate and up interleaved) / down_proj [E, h, d] with biases, MXFP4 on the Hub.</summary>
        GptOss,

        /// <summary>Llama 4 ("llama4", text model under text_config): language_model.model.layers.{i}.feed_forward.router, feed_forward.experts.gate_up_proj [E, d, 2h] / down_proj [E, h, d], feed_forward.shared_expert.*; the routing weight scales the expert's input.</summary>
        Llama4,

        /// <summary>Llama 4's text model saved alone ("llama4_text", Llama4ForCausalLM): as <see cref="Llama4"/> under model.layers.{i}.</summary>
        Llama4Text,

        /// <summary>Nemotron-H ("nemotron_h"): backbone.layers.{i}.mixer.gate (+ e_score_correction_bias), mixer.experts.{i}.up_proj / down_proj (ReLU², ungated), mixer.shared_experts.*; layers by hybrid_override_pattern.</summary>
        NemotronH,
    }
}
