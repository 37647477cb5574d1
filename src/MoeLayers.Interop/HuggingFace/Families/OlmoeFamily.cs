using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// OLMoE ("olmoe"): softmax over E, top-k, renormalized when norm_topk_prob; SwiGLU experts gate_proj / up_proj /
    /// down_proj under mlp, per expert or fused (v5); every layer MoE. Defaults: transformers
    /// src/transformers/models/olmoe/configuration_olmoe.py @ 008e574391258935f3ecc3035c882e73bbcac419 (hidden_size 2048,
    /// intermediate_size 2048, num_hidden_layers 16, num_experts 64, num_experts_per_tok 8, norm_topk_prob false,
    /// router_aux_loss_coef 0.01; num_local_experts is an alias of num_experts).
    /// </summary>
    internal sealed class OlmoeFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Olmoe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "olmoe" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 16, 1);
            var expertsField = f.Has("num_experts") || !f.Has("num_local_experts") ? "num_experts" : "num_local_experts";
            var experts = f.Int(expertsField, 64, 1);
            var topK = TopK(f, experts, expertsField, 8);
            var normalize = f.Bool("norm_topk_prob", false);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, normalize);
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = "olmoe",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 2048, 1),
                ExpertWidth = f.Int("intermediate_size", 2048, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = normalize,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.01, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") });
    }
}
