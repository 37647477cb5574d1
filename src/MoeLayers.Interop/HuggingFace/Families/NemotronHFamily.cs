using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Nemotron-H ("nemotron_h": NVIDIA Nemotron-H and Nemotron 3 Nano), a hybrid whose decoder layers are each one mixer
    /// (backbone.layers.{i}.mixer.): Mamba-2, attention, a dense ReLU² MLP or the MoE block, as hybrid_override_pattern
    /// says with one character per layer ('M' Mamba, '*' attention, '-' MLP, 'E' MoE), or layers_block_type (alias
    /// layer_types) with one name per layer ("mamba"/"linear_attention", "attention"/"full_attention", "mlp", "moe"; it
    /// wins over the pattern). The MoE block (NemotronHMoE) routes exactly as DeepSeek-V3 (<see cref="DeepseekV3Routing"/>:
    /// float32 logits of mixer.gate.weight, sigmoid, choice by s + mixer.gate.e_score_correction_bias within the
    /// topk_group best of n_group groups, weights s / (Σ + 1e-20) when norm_topk_prob, × routed_scaling_factor); its
    /// experts are ungated, down_proj(relu(up_proj(x))²), stored per expert as mixer.experts.{i}.up_proj / down_proj of
    /// width moe_intermediate_size, and one shared expert of the same form (mixer.shared_experts.up_proj / down_proj, width
    /// moe_shared_expert_intermediate_size) is added on every token. The router weight is stored float32 (NVIDIA's
    /// modeling code creates it float32, as the correction bias). Refused: moe_latent_size (Nemotron 3 Super's latent
    /// projections around the experts, which MoeLayers' experts do not compute), mlp_bias (biases on the experts),
    /// mlp_hidden_act other than "relu2", a schedule without an 'E' layer, and num_hidden_layers contradicting the
    /// pattern's length. Sources: transformers src/transformers/models/nemotron_h/modeling_nemotron_h.py @
    /// 897753a012bfa6dac8c0ae3281f23a2fc1e72db6 (NemotronHMoE.route_tokens_to_experts and forward, NemotronHExperts,
    /// NemotronHMLP, NemotronHTopkRouter, NemotronHBlock), configuration_nemotron_h.py @
    /// 13923c63d59f73faebae79b2ee3fafc7e3a35201 (defaults: hidden_size 4096, n_routed_experts 8 (alias
    /// num_local_experts), num_experts_per_tok 2, moe_intermediate_size 7688, moe_shared_expert_intermediate_size 7688,
    /// n_group 1, topk_group 1, norm_topk_prob true, routed_scaling_factor 1.0, mlp_hidden_act "relu2", mlp_bias false,
    /// moe_latent_size None; hybrid_override_pattern → layers_block_type; the default layers_block_type
    /// ["linear_attention", "moe", "full_attention", "mlp"]), and NVIDIA's remote modeling_nemotron_h.py for the Hub
    /// checkpoints' backbone.layers.{i}.mixer.experts.{j}.up_proj.weight names (transformers' conversion_mapping.py renames
    /// backbone. to model. and stacks them into its fused layout on load).
    /// </summary>
    internal sealed class NemotronHFamily : HfFamily
    {
        private const string Pattern = "hybrid_override_pattern";

        /// <summary>The characters of hybrid_override_pattern and layers_block_type's names (current and legacy), by block.</summary>
        private static readonly (char Character, string[] Names, string Block)[] Blocks =
        {
            ('M', new[] { "mamba", "linear_attention" }, "a Mamba-2 layer"),
            ('*', new[] { "attention", "full_attention" }, "an attention layer"),
            ('-', new[] { "mlp" }, "a dense MLP layer"),
            ('E', new[] { "moe" }, "MoE"),
        };

        public override HfArchitecture Architecture => HfArchitecture.NemotronH;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "nemotron_h" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            f.OneOf("mlp_hidden_act", "relu2", "relu2");
            if (f.Has("moe_latent_size"))
                throw f.Contradiction($"model_type 'nemotron_h': '{f.Name("moe_latent_size")}' = {f.Int("moe_latent_size", null)} is not supported by MoeLayers: the experts then run in a latent space (fc1_latent_proj before them, fc2_latent_proj after), which its experts do not compute.");
            if (f.Bool("mlp_bias", false))
                throw f.Contradiction($"model_type 'nemotron_h': '{f.Name("mlp_bias")}' = true (biases on the experts' and shared expert's projections) is not supported by MoeLayers' Nemotron-H layout.");
            var schedule = Schedule(f);
            var routing = DeepseekV3Routing.Read(f, experts: 8, groups: 1, keptGroups: 1, topK: 2, normalize: true, scalingFactor: 1.0);
            return new HfMoeConfig(schedule)
            {
                Architecture = Architecture,
                ModelType = "nemotron_h",
                Source = f.Source,
                NumLayers = schedule.Length,
                HiddenSize = f.Int("hidden_size", 4096, 1),
                ExpertWidth = f.Int("moe_intermediate_size", 7688, 1),
                NumExperts = routing.Experts,
                TopK = routing.TopK,
                NormalizeTopK = routing.Normalize,
                ScoreFunction = ScoreFunction.Sigmoid,
                ExpertGroups = routing.Groups,
                TopKGroups = routing.KeptGroups,
                GroupScore = GroupScore.SumOfTopTwo,
                RoutedScalingFactor = routing.ScalingFactor,
                HasBalanceBias = true,
                Activation = ExpertActivation.ReluSquared,
                SharedExperts = 1,
                SharedWidth = f.Int("moe_shared_expert_intermediate_size", 7688, 1),
                AuxiliaryLossCoefficient = 0,
            };
        }

        public override string LayerPrefix(int layer) => $"backbone.layers.{layer}.";

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight", CorrectionBias: "gate.e_score_correction_bias", WeightIsFloat32: true),
            new HfExpertsCodec[] { new PerExpertCodec("mixer.", gate: null, "up_proj", "down_proj") },
            new HfSharedExpertCodec("shared_experts.", Gate: null));

        /// <summary>
        /// One reason per layer from layers_block_type (or its alias layer_types), else hybrid_override_pattern, else
        /// NemotronHConfig's default; num_hidden_layers, where present, must be the schedule's length.
        /// </summary>
        private static string?[] Schedule(HfConfigFields f)
        {
            var listField = f.Has("layers_block_type") || !f.Has("layer_types") ? "layers_block_type" : "layer_types";
            string?[] reasons;
            string source;
            if (f.Has(listField))
            {
                var names = f.StringList(listField);
                reasons = names.Select((name, i) => Reason(f, listField, i, name, Blocks.FirstOrDefault(b => b.Names.Contains(name)).Block,
                    string.Join(", ", Blocks.SelectMany(b => b.Names).Select(n => $"'{n}'")))).ToArray();
                source = $"'{f.Name(listField)}'";
                if (f.Has(Pattern) && PatternOf(names) is var pattern && pattern != f.String(Pattern, null))
                    throw f.Contradiction($"'{f.Name(Pattern)}' = \"{f.String(Pattern, null)}\" contradicts '{f.Name(listField)}' (\"{pattern}\").");
            }
            else if (f.Has(Pattern))
            {
                var pattern = f.String(Pattern, null);
                reasons = pattern.Select((c, i) => Reason(f, Pattern, i, c.ToString(), Blocks.FirstOrDefault(b => b.Character == c).Block,
                    string.Join(", ", Blocks.Select(b => $"'{b.Character}'")))).ToArray();
                source = $"'{f.Name(Pattern)}' = \"{pattern}\"";
            }
            else
            {
                // NemotronHConfig.__post_init__'s default when neither field is given.
                reasons = new[] { "linear_attention", "moe", "full_attention", "mlp" }
                    .Select((name, i) => name == "moe" ? null : $"{f.Name("layers_block_type")} (absent: NemotronHConfig's default [linear_attention, moe, full_attention, mlp]) makes layer {i} {Blocks.First(b => b.Names.Contains(name)).Block}")
                    .ToArray();
                source = $"the default '{f.Name("layers_block_type")}'";
            }
            if (reasons.Length == 0)
                throw f.Contradiction($"{source} is empty: the model has no layers.");
            if (f.Has("num_hidden_layers") && f.Int("num_hidden_layers", null) != reasons.Length)
                throw f.Contradiction($"'{f.Name("num_hidden_layers")}' = {f.Int("num_hidden_layers", null)} contradicts {source}, which has {reasons.Length} layers.");
            if (reasons.All(r => r is not null))
                throw f.Contradiction($"{source} has no MoE layer ('E' / \"moe\"): the model has no MoE block to load.");
            return reasons;
        }

        /// <summary>Null for an MoE layer, else why layer <paramref name="i"/> is dense; an unknown block is refused.</summary>
        private static string? Reason(HfConfigFields f, string field, int i, string entry, string? block, string expected)
        {
            if (block is null) throw f.Contradiction($"'{f.Name(field)}'[{i}] = '{entry}' is not a Nemotron-H block; expected one of {expected}.");
            return block == "MoE" ? null : $"{f.Name(field)}[{i}] = '{entry}' makes layer {i} {block}";
        }

        /// <summary>The hybrid_override_pattern a list of block names spells (the names already checked).</summary>
        private static string PatternOf(IEnumerable<string> names) =>
            new(names.Select(n => Blocks.First(b => b.Names.Contains(n)).Character).ToArray());
    }
}
