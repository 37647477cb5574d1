using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Qwen3-MoE ("qwen3_moe"): softmax over E, top-k, renormalized when norm_topk_prob; SwiGLU experts gate_proj / up_proj
    /// / down_proj under mlp, per expert or fused (v5); no shared expert. Layer i is MoE unless listed in mlp_only_layers
    /// or (i + 1) % decoder_sparse_step ≠ 0 (Qwen3MoeDecoderLayer). Defaults: transformers
    /// src/transformers/models/qwen3_moe/configuration_qwen3_moe.py @ 008e574391258935f3ecc3035c882e73bbcac419 (hidden_size
    /// 2048, num_hidden_layers 24, moe_intermediate_size 768, num_experts 128, num_experts_per_tok 8, norm_topk_prob
    /// false, router_aux_loss_coef 0.001, decoder_sparse_step 1, mlp_only_layers []; num_local_experts is an alias).
    /// </summary>
    internal sealed class Qwen3MoeFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Qwen3Moe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "qwen3_moe" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 24, 1);
            var expertsField = f.Has("num_experts") || !f.Has("num_local_experts") ? "num_experts" : "num_local_experts";
            var experts = f.Int(expertsField, 128, 1);
            var schedule = HfSchedule.SparseStep(f, layers, f.Int("decoder_sparse_step", 1, 1), f.IntList("mlp_only_layers"));
            var topK = TopK(f, experts, expertsField, 8);
            var normalize = f.Bool("norm_topk_prob", false);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, normalize);
            return new HfMoeConfig(schedule)
            {
                Architecture = Architecture,
                ModelType = "qwen3_moe",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 2048, 1),
                ExpertWidth = f.Int("moe_intermediate_size", 768, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = normalize,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") });
    }
}
