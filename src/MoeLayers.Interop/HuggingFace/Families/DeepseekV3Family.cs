using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// DeepSeek-V3 ("deepseek_v3"): sigmoid affinities; experts chosen by affinity + e_score_correction_bias within the
    /// topk_group best of n_group groups (a group scored by the sum of its top two), weighted by the affinities,
    /// renormalized when norm_topk_prob, times routed_scaling_factor; SwiGLU experts and n_shared_experts shared experts
    /// of width moe_intermediate_size; layers before first_k_dense_replace dense. transformers' DeepseekV3TopkRouter
    /// always applies this rule (noaux_tc), so a config asking for another topk_method or scoring_func is refused rather
    /// than computed differently. Defaults: transformers src/transformers/models/deepseek_v3/configuration_deepseek_v3.py
    /// @ 001f85b38fb432858ace93f18622f07cec46d874 (hidden_size 7168, moe_intermediate_size 2048, num_hidden_layers 61,
    /// n_routed_experts 256, n_shared_experts 1, num_experts_per_tok 8, n_group 8, topk_group 4, routed_scaling_factor
    /// 2.5, norm_topk_prob true, first_k_dense_replace 3; num_local_experts is an alias of n_routed_experts).
    /// </summary>
    internal sealed class DeepseekV3Family : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.DeepseekV3;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "deepseek_v3" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            f.OneOf("topk_method", "noaux_tc", "noaux_tc");
            f.OneOf("scoring_func", "sigmoid", "sigmoid");
            var layers = f.Int("num_hidden_layers", 61, 1);
            var expertsField = f.Has("n_routed_experts") || !f.Has("num_local_experts") ? "n_routed_experts" : "num_local_experts";
            var experts = f.Int(expertsField, 256, 1);
            var groups = f.Int("n_group", 8, 1);
            if (experts % groups != 0)
                throw f.Contradiction($"'{f.Name("n_group")}' = {groups} must divide '{f.Name(expertsField)}' = {experts} into equal groups.");
            var keptGroups = f.Int("topk_group", 4, 1, groups, $"in [1, {f.Name("n_group")} = {groups}]");
            if (experts / groups < 2 && groups > 1)
                throw f.Contradiction($"each of the '{f.Name("n_group")}' = {groups} groups must hold at least 2 experts (a group is scored by its top two); '{f.Name(expertsField)}' = {experts}.");
            var topK = TopK(f, experts, expertsField, 8);
            if (topK > keptGroups * (experts / groups))
                throw f.Contradiction($"'{f.Name("num_experts_per_tok")}' = {topK} is more than the {keptGroups * (experts / groups)} experts that '{f.Name("topk_group")}' = {keptGroups} groups of {experts / groups} leave.");
            var width = f.Int("moe_intermediate_size", 2048, 1);
            var schedule = HfSchedule.FirstDense(f, layers, f.Int("first_k_dense_replace", 3, 0), f.Int("moe_layer_freq", 1, 1));
            return new HfMoeConfig(schedule)
            {
                Architecture = Architecture,
                ModelType = "deepseek_v3",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 7168, 1),
                ExpertWidth = width,
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = f.Bool("norm_topk_prob", true),
                ScoreFunction = ScoreFunction.Sigmoid,
                ExpertGroups = groups,
                TopKGroups = keptGroups,
                TopKMethod = "noaux_tc",
                GroupScore = GroupScore.SumOfTopTwo,
                RoutedScalingFactor = f.Double("routed_scaling_factor", 2.5, v => v > 0, "a finite number > 0"),
                HasBalanceBias = true,
                SharedExperts = f.Int("n_shared_experts", 1, 0),
                SharedWidth = width,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight", CorrectionBias: "gate.e_score_correction_bias"),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") },
            new HfSharedExpertCodec("shared_experts."));
    }
}
