using System.Collections.Generic;
using System.Globalization;

namespace MoeLayers.Interop
{
    /// <summary>
    /// gpt-oss ("gpt_oss"; gpt-oss-20b and -120b): GptOssTopKRouter computes logits = x·Wᵀ + b with its own bias
    /// (mlp.router.weight [E, d], mlp.router.bias [E]), takes the top k of the logits and softmaxes over those k;
    /// GptOssExperts stores its weights input-major, mlp.experts.gate_up_proj [E, d, 2h] with gate and up interleaved
    /// column by column (gate = [..., ::2], up = [..., 1::2]), mlp.experts.gate_up_proj_bias [E, 2h] (same interleave),
    /// mlp.experts.down_proj [E, h, d] and mlp.experts.down_proj_bias [E, d], and applies the clamped SwiGLU
    /// (up clamped to ±7, gate clamped above at 7, (up + 1) · gate · σ(1.702 · gate)); h = intermediate_size; no shared
    /// experts; every decoder layer MoE (layer_types alternates only the attention). The Hub checkpoints quantize the two
    /// weights as MXFP4 (experts.gate_up_proj_blocks / _scales, experts.down_proj_blocks / _scales; quantization_config
    /// quant_method "mxfp4"), which the loader dequantizes and transposes to the parameters above as transformers does;
    /// the BF16 re-releases store the parameters themselves. Transformers v5 keeps this layout (experts_are_transposed)
    /// and its conversion mapping only realigns the tensors. Transcribed from transformers
    /// src/transformers/models/gpt_oss/modular_gpt_oss.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (GptOssExperts,
    /// GptOssTopKRouter, GptOssMLP, GptOssDecoderLayer), src/transformers/integrations/mxfp4.py @
    /// 0189b1d09a03a87ec4f59831acb93cc1832d14e7 and conversion_mapping.py (the gpt_oss entry: Force16BytesAlignment only);
    /// defaults from configuration_gpt_oss.py @ 02b8f42b4240dddea1b27c45d2dc95fb2682f841 (num_hidden_layers 36,
    /// num_local_experts 128 (alias num_experts), num_experts_per_tok 4, hidden_size 2880, intermediate_size 2880,
    /// swiglu_alpha 1.702, swiglu_limit 7.0, router_aux_loss_coef 0.001; the published configs set 0.9). GptOssExperts
    /// fixes α = 1.702 and limit = 7.0 whatever the config says, while transformers' MXFP4 kernel path
    /// (Mxfp4GptOssExperts) clamps at swiglu_limit, and the newest configuration declares swiglu_alpha as the experts'
    /// α: a config with another swiglu_limit or swiglu_alpha does not describe one published computation and is refused. hidden_act is not read by the experts and is not checked.
    /// k = 1 is refused (the softmax over one logit weights its expert by exactly 1).
    /// </summary>
    internal sealed class GptOssFamily : HfFamily
    {
        private const double Alpha = 1.702;
        private const double Limit = 7.0;

        public override HfArchitecture Architecture => HfArchitecture.GptOss;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "gpt_oss" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireFixed(f, "swiglu_limit", Limit,
                "transformers' GptOssExperts clamps at 7 whatever the config says, while its MXFP4 kernel path (Mxfp4GptOssExperts) clamps at swiglu_limit: the published code computes two different blocks");
            RequireFixed(f, "swiglu_alpha", Alpha,
                "transformers' GptOssExperts and Mxfp4GptOssExperts use α = 1.702 whatever the config says, while configuration_gpt_oss.py describes the field as the experts' α: which block such a checkpoint means is not settled");
            var layers = f.Int("num_hidden_layers", 36, 1);
            var expertsField = f.Has("num_local_experts") || !f.Has("num_experts") ? "num_local_experts" : "num_experts";
            var experts = f.Int(expertsField, 128, 1);
            if (f.Has("num_local_experts") && f.Has("num_experts") && f.Int("num_experts", null) != experts)
                throw f.Contradiction($"'{f.Name("num_experts")}' = {f.Int("num_experts", null)} contradicts '{f.Name("num_local_experts")}' = {experts}: gpt_oss maps num_experts to num_local_experts.");
            var topK = TopK(f, experts, expertsField, 4);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, renormalized: true);
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = "gpt_oss",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 2880, 1),
                ExpertWidth = f.Int("intermediate_size", 2880, 1),
                NumExperts = experts,
                TopK = topK,
                TopKOrder = TopKOrder.TopKThenSoftmax,
                RouterBias = true,
                Activation = ExpertActivation.ClampedSwiGlu,
                SwiGluAlpha = Alpha,
                SwiGluLimit = Limit,
                ExpertBias = true,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("router.weight", Bias: "router.bias"),
            new HfExpertsCodec[]
            {
                new FusedGateUpCodec("mlp.", inputMajor: true, interleaved: true, gateUpBias: "experts.gate_up_proj_bias", downBias: "experts.down_proj_bias"),
            });

        /// <summary>A clamped-SwiGLU constant transformers' eager experts fix; absent means that value, another is refused for <paramref name="why"/>.</summary>
        private static void RequireFixed(HfConfigFields f, string field, double value, string why)
        {
            var read = f.Double(field, value);
            if (read != value)
                throw f.Contradiction($"model_type 'gpt_oss': '{f.Name(field)}' = {read.ToString(CultureInfo.InvariantCulture)} is not supported by MoeLayers " +
                    $"(only {value.ToString(CultureInfo.InvariantCulture)}): {why}.");
        }
    }
}
