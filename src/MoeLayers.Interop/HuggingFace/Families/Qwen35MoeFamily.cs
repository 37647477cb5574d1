using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Qwen3.5-MoE ("qwen3_5_moe", a vision-language model whose text model's fields nest under text_config with model_type
    /// "qwen3_5_moe_text"): Qwen3NextSparseMoeBlock with Qwen3VLMoeTextTopKRouter, i.e. softmax over E, top-k, always
    /// renormalized (the text config deletes norm_topk_prob); SwiGLU experts fused as published on the Hub
    /// (mlp.experts.gate_up_proj [E, 2h, d], gate rows first, and down_proj [E, d, h]) or per expert; one shared expert
    /// scaled by sigmoid(shared_expert_gate(x)). Every decoder layer is MoE (Qwen3_5MoeDecoderLayer; the text config deletes
    /// decoder_sparse_step and mlp_only_layers, so those fields are not read). The text model lives at
    /// model.language_model.layers.{i}. Sources: transformers src/transformers/models/qwen3_5_moe/modular_qwen3_5_moe.py @
    /// 0960594cbcb31be634ec36a76818155c591aafb4 (Qwen3_5MoeTextConfig(Qwen3NextConfig): hidden_size 2048,
    /// num_hidden_layers 40, num_experts 256, num_experts_per_tok 8; inherited moe_intermediate_size 512,
    /// shared_expert_intermediate_size 512, router_aux_loss_coef 0.001), models/qwen3_vl_moe/modular_qwen3_vl_moe.py @
    /// 6e4054ae4d2748051a0080ccb6eebfbcc0848d88 (the router renormalizes unconditionally). A config.json without
    /// text_config is refused: it names none of the block's sizes.
    /// </summary>
    internal sealed class Qwen35MoeFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Qwen35Moe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "qwen3_5_moe" };

        public override HfMoeConfig Read(HfConfigFields root)
        {
            var f = root.Nested("text_config") ?? throw root.Contradiction(
                "model_type 'qwen3_5_moe' keeps its text model's fields under 'text_config', and this config has none.");
            var modelType = f.OneOf("model_type", "qwen3_5_moe_text", "qwen3_5_moe_text");
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 40, 1);
            var experts = f.Int("num_experts", 256, 1);
            var topK = TopK(f, experts, "num_experts", 8);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, renormalized: true);
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = modelType,
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 2048, 1),
                ExpertWidth = f.Int("moe_intermediate_size", 512, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = true,
                SharedExperts = 1,
                SharedWidth = f.Int("shared_expert_intermediate_size", 512, 1),
                SharedExpertGate = true,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override string LayerPrefix(int layer) => $"model.language_model.layers.{layer}.";

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight"),
            new HfExpertsCodec[] { new FusedGateUpCodec("mlp."), new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj") },
            new HfSharedExpertCodec("shared_expert.", OutputGate: "shared_expert_gate.weight"));
    }
}
