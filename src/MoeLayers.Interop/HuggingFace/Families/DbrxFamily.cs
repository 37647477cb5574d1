using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// DBRX ("dbrx"): softmax over E in float32, top-k, the k weights divided by their p-norm with p =
    /// ffn_config.moe_normalize_expert_weights (null: not divided); SwiGLU experts stored flattened
    /// (<see cref="DbrxExpertsCodec"/>); every block MoE, under transformer.blocks.{i}.ffn. The p-norm of k non-negative
    /// weights with p = 1 is their sum, and the core's renormalization divides by (sum + 1e-20), which in float32 is the
    /// sum itself (the sum of the k largest of E softmax probabilities is at least k/E, whose ulp is far above 1e-20):
    /// so p = 1 maps to <see cref="HfMoeConfig.NormalizeTopK"/> exactly, and any other p is refused. With k = 1 the
    /// normalized weight is exactly 1, which the core refuses to compute (RenormalizeWeights needs TopK ≥ 2), so k = 1
    /// with a normalization is refused too. moe_jitter_eps scales the router input by uniform noise in training only;
    /// evaluation is unaffected and MoeLayers does not apply it. Sources: transformers
    /// src/transformers/models/dbrx/modeling_dbrx.py @ 7c65d177a1df42590956c680055d79abc9aa3b7f (DbrxRouter, DbrxExpertGLU,
    /// DbrxExperts, DbrxFFN, DbrxModel.blocks; the aux loss weighted by moe_loss_weight). Defaults:
    /// configuration_dbrx.py @ 23966c3f60ed43863fde91f2fadcc95c178216e1 (d_model 2048, n_layers 24; ffn_config:
    /// ffn_hidden_size 3584, moe_num_experts 4, moe_top_k 1, moe_normalize_expert_weights 1.0, moe_loss_weight 0.01,
    /// ffn_act_fn {"name": "silu"}; hidden_size and num_hidden_layers are aliases of d_model and n_layers).
    /// </summary>
    internal sealed class DbrxFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Dbrx;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "dbrx" };

        public override string LayerPrefix(int layer) => $"transformer.blocks.{layer}.";

        public override HfMoeConfig Read(HfConfigFields f)
        {
            var ffn = f.NestedOrEmpty("ffn_config");
            ffn.NestedOrEmpty("ffn_act_fn").OneOf("name", "silu", "silu");
            var layersField = f.Has("n_layers") || !f.Has("num_hidden_layers") ? "n_layers" : "num_hidden_layers";
            var hiddenField = f.Has("d_model") || !f.Has("hidden_size") ? "d_model" : "hidden_size";
            var layers = f.Int(layersField, 24, 1);
            var experts = ffn.Int("moe_num_experts", 4, 1);
            var topK = ffn.Int("moe_top_k", 1, 1, experts, $"in [1, {ffn.Name("moe_num_experts")} = {experts}]");
            var normalize = Normalizes(ffn, topK);
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = "dbrx",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int(hiddenField, 2048, 1),
                ExpertWidth = ffn.Int("ffn_hidden_size", 3584, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = normalize,
                AuxiliaryLossCoefficient = ffn.Double("moe_loss_weight", 0.01, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("router.layer.weight"),
            new HfExpertsCodec[] { new DbrxExpertsCodec("ffn.") });

        /// <summary>Whether the top-k weights are divided by their sum: moe_normalize_expert_weights = 1 (default) yes, null no, other p refused.</summary>
        private static bool Normalizes(HfConfigFields ffn, int topK)
        {
            const string field = "moe_normalize_expert_weights";
            if (ffn.IsNull(field)) return false;
            var p = ffn.Double(field, 1.0);
            if (p != 1.0)
                throw ffn.Contradiction($"model_type dbrx: '{ffn.Name(field)}' = {p.ToString(System.Globalization.CultureInfo.InvariantCulture)} divides the top-k weights by their p-norm with p ≠ 1, " +
                    "which is not supported by MoeLayers: its router can divide by the sum (p = 1) or not at all (null).");
            if (topK == 1)
                throw ffn.Contradiction($"model_type dbrx: '{ffn.Name("moe_top_k")}' = 1 with '{ffn.Name(field)}' = 1 makes every routing weight exactly 1, " +
                    "which is not supported by MoeLayers (its renormalization needs k ≥ 2); set moe_top_k ≥ 2, or moe_normalize_expert_weights to null for the softmax probability.");
            return true;
        }
    }
}
