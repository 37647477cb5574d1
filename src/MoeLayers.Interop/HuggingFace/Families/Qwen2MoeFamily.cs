using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Qwen2-MoE ("qwen2_moe"): softmax over E, top-k, renormalized when norm_topk_prob; SwiGLU experts under mlp, per
    /// expert or fused (v5); one shared expert of width shared_expert_intermediate_size scaled by
    /// sigmoid(shared_expert_gate(x)). Schedule as Qwen3-MoE (decoder_sparse_step, mlp_only_layers). Defaults: transformers
    /// src/transformers/models/qwen2_moe/configuration_qwen2_moe.py @ 008e574391258935f3ecc3035c882e73bbcac419 (hidden_size
    /// 2048, num_hidden_layers 24, moe_intermediate_size 1408, shared_expert_intermediate_size 5632, num_experts 60,
    /// num_experts_per_tok 4, norm_topk_prob false, router_aux_loss_coef 0.001). Qwen2MoeSparseMoeBlock always has its
    /// shared expert, so an absent shared_expert_intermediate_size means 5632, not none.
    /// </summary>
    internal class Qwen2MoeFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Qwen2Moe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "qwen2_moe" };

        /// <summary>The configuration class's defaults; a family with Qwen2-MoE's block and other defaults overrides them.</summary>
        private protected virtual QwenSharedExpertDefaults Defaults { get; } = new(Layers: 24, Hidden: 2048, Width: 1408, SharedWidth: 5632, Experts: 60, TopK: 4, Normalize: false);

        public override HfMoeConfig Read(HfConfigFields f)
        {
            var d = Defaults;
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", d.Layers, 1);
            var experts = f.Int("num_experts", d.Experts, 1);
            var schedule = HfSchedule.SparseStep(f, layers, f.Int("decoder_sparse_step", 1, 1), f.IntList("mlp_only_layers"));
            var topK = TopK(f, experts, "num_experts", d.TopK);
            var normalize = f.Bool("norm_topk_prob", d.Normalize);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, normalize);
            return new HfMoeConfig(schedule)
            {
                Architecture = Architecture,
                ModelType = ModelTypes[0],
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", d.Hidden, 1),
                ExpertWidth = f.Int("moe_intermediate_size", d.Width, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = normalize,
                SharedExperts = 1,
                SharedWidth = f.Int("shared_expert_intermediate_size", d.SharedWidth, 1),
                SharedExpertGate = true,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") },
            new HfSharedExpertCodec("shared_expert.", OutputGate: "shared_expert_gate.weight"));
    }

    /// <summary>The configuration defaults of a family with Qwen2-MoE's block (router_aux_loss_coef is 0.001 in each).</summary>
    internal sealed record QwenSharedExpertDefaults(int Layers, int Hidden, int Width, int SharedWidth, int Experts, int TopK, bool Normalize);
}
