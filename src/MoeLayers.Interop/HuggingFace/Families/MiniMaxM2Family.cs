using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// MiniMax-M2 ("minimax_m2"): MiniMaxM2TopKRouter takes sigmoid(logits) in float32, chooses the top k of sigmoid +
    /// e_score_correction_bias (no groups), weights the chosen sigmoid scores divided by their sum (always; no
    /// norm_topk_prob, no scaling factor); SwiGLU experts of width intermediate_size; no shared experts; every decoder
    /// layer MoE. Published layout (the Hub's checkpoints, read by v5's conversion): block_sparse_moe.gate.weight,
    /// block_sparse_moe.e_score_correction_bias (float32), block_sparse_moe.experts.{i}.w1 / w3 / w2 (gate / up / down);
    /// transformers v5 renames the block mlp and fuses the experts (the mixtral conversion: mlp.experts.gate_up_proj,
    /// mlp.experts.down_proj, mlp.e_score_correction_bias). transformers divides by the sum without MoeLayers' + 1e-20;
    /// in float32 the two agree bit for bit unless the k chosen sigmoid scores sum below 2^24 · 1e-20 ≈ 1.7e-13 (every
    /// chosen logit below about −29). Transcribed from transformers
    /// src/transformers/models/minimax_m2/modular_minimax_m2.py @ ea9df1d3bd9784aa7e6abd8f4be29551dd58d6d8 (config
    /// defaults there too: hidden_size 3072, intermediate_size 1536, num_hidden_layers 62, num_local_experts 256 (alias
    /// num_experts), num_experts_per_tok 8, router_aux_loss_coef 0.001) and the minimax_m2 entry of
    /// src/transformers/conversion_mapping.py. The published config's scoring_func "sigmoid", use_routing_bias true and
    /// shared_intermediate_size 0, which transformers does not read, are checked: another value describes a block
    /// transformers does not compute, and is refused.
    /// </summary>
    internal sealed class MiniMaxM2Family : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.MiniMaxM2;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "minimax_m2" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            f.OneOf("scoring_func", "sigmoid", "sigmoid");
            if (!f.Bool("use_routing_bias", true))
                throw f.Contradiction($"model_type 'minimax_m2': '{f.Name("use_routing_bias")}' = false is not supported by MoeLayers: transformers' MiniMaxM2SparseMoeBlock always adds e_score_correction_bias for the choice.");
            if (f.Int("shared_intermediate_size", 0, 0) != 0)
                throw f.Contradiction($"model_type 'minimax_m2': '{f.Name("shared_intermediate_size")}' > 0 is not supported by MoeLayers: transformers' MiniMaxM2SparseMoeBlock has no shared expert.");
            var layers = f.Int("num_hidden_layers", 62, 1);
            var expertsField = f.Has("num_local_experts") || !f.Has("num_experts") ? "num_local_experts" : "num_experts";
            var experts = f.Int(expertsField, 256, 1);
            var topK = TopK(f, experts, expertsField, 8);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, renormalized: true);
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = "minimax_m2",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 3072, 1),
                ExpertWidth = f.Int("intermediate_size", 1536, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = true,
                ScoreFunction = ScoreFunction.Sigmoid,
                HasBalanceBias = true,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight", CorrectionBias: "e_score_correction_bias"),
            new HfExpertsCodec[] { new PerExpertCodec("block_sparse_moe.", "w1", "w3", "w2"), new FusedGateUpCodec("mlp.") });
    }
}
