using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The families whose MoE block is transformers' DeepseekV3MoE or a copy of it (DeepSeek-V3, Kimi K2, GLM-4.5 MoE,
    /// dots.llm1): sigmoid affinities; experts chosen by affinity + e_score_correction_bias within the topk_group best of
    /// n_group groups (a group scored by the sum of its top two); weights = the chosen affinities, divided by their sum
    /// + 1e-20 when norm_topk_prob, times routed_scaling_factor; SwiGLU experts gate_proj / up_proj / down_proj under mlp
    /// (per expert, or fused by transformers v5's qwen2_moe conversion) and n_shared_experts shared experts of width
    /// moe_intermediate_size; layers before first_k_dense_replace dense. The rule is read here once; each family gives
    /// its configuration class's defaults. The router always applies this rule (noaux_tc), so a config asking for another
    /// topk_method or scoring_func is refused rather than computed differently.
    /// </summary>
    internal abstract class DeepseekV3MoeFamily : HfFamily
    {
        /// <summary>The family's configuration-class defaults for absent fields.</summary>
        protected abstract DeepseekV3MoeDefaults Defaults { get; }

        /// <summary>Whether the family's decoder reads moe_layer_freq (DeepSeek's own modeling code) or only first_k_dense_replace.</summary>
        protected virtual bool ReadsMoeLayerFrequency => false;

        /// <inheritdoc />
        public override HfMoeConfig Read(HfConfigFields f)
        {
            var d = Defaults;
            RequireActivation(f, "silu", "silu");
            f.OneOf("topk_method", "noaux_tc", "noaux_tc");
            f.OneOf("scoring_func", "sigmoid", "sigmoid");
            var layers = f.Int("num_hidden_layers", d.Layers, 1);
            var routing = DeepseekV3Routing.Read(f, d.Experts, d.Groups, d.KeptGroups, d.TopK, d.Normalize, d.ScalingFactor);
            var width = f.Int("moe_intermediate_size", d.Width, 1);
            var firstDense = f.Int("first_k_dense_replace", d.FirstDense, 0);
            var schedule = HfSchedule.FirstDense(f, layers, firstDense, ReadsMoeLayerFrequency ? f.Int("moe_layer_freq", 1, 1) : 1);
            return new HfMoeConfig(schedule)
            {
                Architecture = Architecture,
                ModelType = ModelTypes[0],
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", d.Hidden, 1),
                ExpertWidth = width,
                NumExperts = routing.Experts,
                TopK = routing.TopK,
                NormalizeTopK = routing.Normalize,
                ScoreFunction = ScoreFunction.Sigmoid,
                ExpertGroups = routing.Groups,
                TopKGroups = routing.KeptGroups,
                TopKMethod = "noaux_tc",
                GroupScore = GroupScore.SumOfTopTwo,
                RoutedScalingFactor = routing.ScalingFactor,
                HasBalanceBias = true,
                SharedExperts = f.Int("n_shared_experts", d.SharedExperts, 0),
                SharedWidth = width,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", d.AuxiliaryLossCoefficient, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        /// <inheritdoc />
        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight", CorrectionBias: "gate.e_score_correction_bias"),
            ExpertLayouts,
            new HfSharedExpertCodec("shared_experts."));

        /// <summary>The expert layouts the family's checkpoints use, published first: per expert, and transformers v5's fused one.</summary>
        protected virtual IReadOnlyList<HfExpertsCodec> ExpertLayouts { get; } =
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") };
    }
}
