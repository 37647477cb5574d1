using System.Collections.Generic;
using System.Globalization;

namespace MoeLayers.Interop
{
    /// <summary>
    /// ERNIE 4.5 MoE ("ernie4_5_moe"): router logits in float32 (the gate is kept float32), p = softmax(logits); experts
    /// chosen by p + moe_statics.e_score_correction_bias (stored [1, E], one row), weighted by p and divided by
    /// clamp(Σ p, min = moe_norm_min); SwiGLU experts gate_proj / up_proj / down_proj under mlp.experts.{i}; shared experts
    /// as one MLP of width moe_num_shared_experts × moe_intermediate_size under mlp.shared_experts, added unscaled. Layer i
    /// is MoE when (i + 1) % moe_layer_interval == 0 and moe_layer_start_index ≤ i ≤ moe_layer_end_index (-1: the last
    /// layer). Sources: transformers src/transformers/models/ernie4_5_moe/modular_ernie4_5_moe.py @
    /// a4d4492db0a8bea16dce21574473fd3809d40bc3 (Ernie4_5_MoeSparseMoeBlock, Ernie4_5_MoeStatics, Ernie4_5_MoeDecoderLayer)
    /// and configuration_ernie4_5_moe.py @ 001f85b38fb432858ace93f18622f07cec46d874 (hidden_size 2560, num_hidden_layers 28,
    /// moe_intermediate_size 1536, moe_num_experts 64 (alias num_experts), moe_k 6 (alias num_experts_per_tok),
    /// moe_num_shared_experts 2, moe_layer_start_index 1, moe_layer_end_index -1, moe_layer_interval 1, moe_norm_min 1e-12,
    /// use_bias false, router_aux_loss_coef 0.001).
    /// </summary>
    /// <remarks>
    /// The normalization: MoeLayers divides by (Σ p + 1e-20), ERNIE by clamp(Σ p, moe_norm_min). The k chosen softmax
    /// probabilities sum to at least k/E (the k largest of E numbers summing to 1), so clamp(Σ p, m) = Σ p exactly whenever
    /// m ≤ k/E; and in float32 Σ p + 1e-20 rounds to Σ p exactly whenever Σ p &gt; 2²⁴ · 1e-20 ≈ 1.7e-13, which k/E ≥ 1/2³¹
    /// always exceeds. Both rules therefore divide the same float32 numbers by the same float32 sum. A config whose
    /// moe_norm_min could bind (more than half of k/E, leaving room for float32 rounding of Σ p) is refused. k = 1 is
    /// refused (ERNIE weights the one expert by exactly p / p = 1), and so is use_bias = true (biased expert projections,
    /// a gate-projection bias among them, which MoeLayers' experts do not have).
    /// </remarks>
    internal sealed class Ernie45MoeFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Ernie45Moe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "ernie4_5_moe" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            if (f.Bool("use_bias", false))
                throw f.Contradiction($"model_type ernie4_5_moe: '{f.Name("use_bias")}' = true gives every expert projection a bias (gate_proj's among them), which is not supported by MoeLayers.");
            var layers = f.Int("num_hidden_layers", 28, 1);
            var expertsField = f.Has("moe_num_experts") || !f.Has("num_experts") ? "moe_num_experts" : "num_experts";
            var experts = f.Int(expertsField, 64, 1);
            var topKField = f.Has("moe_k") || !f.Has("num_experts_per_tok") ? "moe_k" : "num_experts_per_tok";
            var topK = f.Int(topKField, 6, 1, experts, $"in [1, {f.Name(expertsField)} = {experts}]");
            RequireRenormalizableTopK(f, topKField, topK, renormalized: true);
            var normMin = f.Double("moe_norm_min", 1e-12, v => v >= 0, "a finite number ≥ 0");
            if (normMin * 2 * experts > topK)
                throw f.Contradiction(
                    $"'{f.Name("moe_norm_min")}' = {normMin.ToString(CultureInfo.InvariantCulture)} could bind: the {topK} chosen probabilities sum to at least " +
                    $"{topK}/{experts}, and MoeLayers reproduces clamp(sum, moe_norm_min) exactly only while moe_norm_min ≤ half of that.");
            return new HfMoeConfig(Schedule(f, layers))
            {
                Architecture = Architecture,
                ModelType = "ernie4_5_moe",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 2560, 1),
                ExpertWidth = f.Int("moe_intermediate_size", 1536, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = true,
                HasBalanceBias = true,
                SharedExperts = f.Int("moe_num_shared_experts", 2, 0),
                SharedWidth = f.Int("moe_intermediate_size", 1536, 1),
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight", CorrectionBias: "moe_statics.e_score_correction_bias", CorrectionBiasIsRow: true, WeightIsFloat32: true),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj") },
            new HfSharedExpertCodec("shared_experts."));

        /// <summary>Ernie4_5_MoeDecoderLayer: MoE iff (i + 1) % interval == 0 and start ≤ i ≤ end, end = -1 meaning the last layer.</summary>
        private static string?[] Schedule(HfConfigFields f, int layers)
        {
            var start = f.Int("moe_layer_start_index", 1, 0);
            var endField = f.Int("moe_layer_end_index", -1, -1, int.MaxValue, "-1 (the last layer) or a layer index ≥ 0");
            var end = endField == -1 ? layers - 1 : endField;
            var interval = f.Int("moe_layer_interval", 1, 1);
            var reasons = new string?[layers];
            for (var i = 0; i < layers; i++)
            {
                if (i < start) reasons[i] = $"{f.Name("moe_layer_start_index")} = {start} makes layers before {start} dense";
                else if (i > end) reasons[i] = $"{f.Name("moe_layer_end_index")} = {endField} makes layers after {end} dense";
                else if ((i + 1) % interval != 0) reasons[i] = $"{f.Name("moe_layer_interval")} = {interval} makes only layers i with (i + 1) % {interval} == 0 MoE";
            }
            return reasons;
        }
    }
}
