using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Qwen3-Next ("qwen3_next"): the Qwen2-MoE block (Qwen3NextSparseMoeBlock = Qwen2MoeSparseMoeBlock): softmax over E,
    /// top-k, renormalized when norm_topk_prob; SwiGLU experts under mlp, per expert (the Hub layout) or fused (v5); one
    /// shared expert of width shared_expert_intermediate_size scaled by sigmoid(shared_expert_gate(x)). The decoder mixes
    /// linear-attention and full-attention layers (layer_types), which changes only the token mixer: the feed-forward
    /// schedule is Qwen3-MoE's (decoder_sparse_step, mlp_only_layers; Qwen3NextDecoderLayer). Sources: transformers
    /// src/transformers/models/qwen3_next/modular_qwen3_next.py @ 043bb8dde14aae1a56b84cd230737cf5d0877912 and defaults from
    /// configuration_qwen3_next.py @ 008e574391258935f3ecc3035c882e73bbcac419 (hidden_size 2048, num_hidden_layers 48,
    /// moe_intermediate_size 512, shared_expert_intermediate_size 512, num_experts 512, num_experts_per_tok 10,
    /// norm_topk_prob true, router_aux_loss_coef 0.001, decoder_sparse_step 1, mlp_only_layers []).
    /// </summary>
    internal sealed class Qwen3NextFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Qwen3Next;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "qwen3_next" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 48, 1);
            var experts = f.Int("num_experts", 512, 1);
            var topK = TopK(f, experts, "num_experts", 10);
            var normalize = f.Bool("norm_topk_prob", true);
            if (normalize) RequireRenormalizableTopK(f, "num_experts_per_tok", topK, renormalized: true);
            var schedule = HfSchedule.SparseStep(f, layers, f.Int("decoder_sparse_step", 1, 1), f.IntList("mlp_only_layers"));
            return new HfMoeConfig(schedule)
            {
                Architecture = Architecture,
                ModelType = "qwen3_next",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 2048, 1),
                ExpertWidth = f.Int("moe_intermediate_size", 512, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = normalize,
                SharedExperts = 1,
                SharedWidth = f.Int("shared_expert_intermediate_size", 512, 1),
                SharedExpertGate = true,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") },
            new HfSharedExpertCodec("shared_expert.", OutputGate: "shared_expert_gate.weight"));
    }
}
