using System.Collections.Generic;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Hunyuan MoE ("hunyuan_v1_moe", Hunyuan-A13B): HunYuanMoEV1Gate computes the logits in float32 (mlp.gate.wg, a
    /// float32 nn.Linear), softmax over E, top moe_topk, always divided by their sum; SwiGLU experts
    /// mlp.experts.{i}.gate_proj / up_proj / down_proj and one shared expert mlp.shared_mlp.* (no gate), both of width
    /// intermediate_size; every decoder layer MoE. transformers v5 fuses the experts as qwen2_moe. num_experts and
    /// moe_topk may be one integer or a list per layer; MoeLayers reads one E and one k per model, so a list must hold
    /// one value (for every layer). transformers sizes routed and shared experts by intermediate_size and builds one
    /// shared expert whatever the published moe_intermediate_size, num_shared_expert and use_mixed_mlp_moe say, so a
    /// config where those describe other experts is refused. (An earlier revision of the modeling file routed through a
    /// capacity-limited top-k gate that drops tokens; the released forward transcribed here has no capacity.)
    /// Transcribed from transformers src/transformers/models/hunyuan_v1_moe/modeling_hunyuan_v1_moe.py @
    /// f3f034d7fae0e5afb8bb6b387cd3aefc499a6a69 and modular_hunyuan_v1_moe.py @ 3404f51e382117e3181e9ad481f2de723889643e
    /// (HunYuanMoEV1Moe.forward), conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6. Defaults:
    /// configuration_hunyuan_v1_moe.py @ 6e4054ae4d2748051a0080ccb6eebfbcc0848d88 (hidden_size 4096, intermediate_size
    /// 11008, num_hidden_layers 32, num_experts 1, moe_topk 1; no router_aux_loss_coef, so 0). The default moe_topk = 1
    /// weights every token's expert by exactly 1 and is refused (see <see cref="HfFamily"/>).
    /// </summary>
    internal sealed class HunyuanV1MoeFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.HunyuanV1Moe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "hunyuan_v1_moe" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 32, 1);
            var width = f.Int("intermediate_size", 11008, 1);
            var experts = OnePerModel(f, "num_experts", 1, layers, 1, int.MaxValue, "at least 1");
            var topK = OnePerModel(f, "moe_topk", 1, layers, 1, experts, $"in [1, {f.Name("num_experts")} = {experts}]");
            RequireRenormalizableTopK(f, "moe_topk", topK, renormalized: true);
            if (f.Has("moe_intermediate_size") && OnePerModel(f, "moe_intermediate_size", width, layers, 1, int.MaxValue, "at least 1") != width)
                throw Unsupported(f, "moe_intermediate_size", $"differs from '{f.Name("intermediate_size")}' = {width}, the width transformers' HunYuanMoEV1MLP gives routed and shared experts");
            if (f.Has("num_shared_expert") && OnePerModel(f, "num_shared_expert", 1, layers, 0, int.MaxValue, "at least 0") != 1)
                throw Unsupported(f, "num_shared_expert", "is not 1, the one shared_mlp transformers' HunYuanMoEV1Moe always builds");
            if (!f.Bool("use_mixed_mlp_moe", true))
                throw Unsupported(f, "use_mixed_mlp_moe", "is false, but transformers' HunYuanMoEV1Moe always adds its shared_mlp");
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = "hunyuan_v1_moe",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 4096, 1),
                ExpertWidth = width,
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = true,
                SharedExperts = 1,
                SharedWidth = width,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.0, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.wg.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("mlp.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("mlp.") },
            new HfSharedExpertCodec("shared_mlp."));

        /// <summary>
        /// A field that is an integer or a list with one integer per layer (transformers indexes it by layer_idx), read as
        /// the one value every layer shares; a list with differing values, or shorter than num_hidden_layers, is refused.
        /// </summary>
        private static int OnePerModel(HfConfigFields f, string field, int fallback, int layers, int min, int max, string range)
        {
            if (f.Kind(field) != JsonValueKind.Array) return f.Int(field, fallback, min, max, range);
            var values = f.IntList(field);
            if (values.Count < layers)
                throw f.Contradiction($"'{f.Name(field)}' lists {values.Count} values; transformers reads one per layer, so it needs {f.Name("num_hidden_layers")} = {layers}.");
            if (values.Distinct().Count() != 1)
                throw Unsupported(f, field, $"differs between layers ({string.Join(", ", values.Distinct())}); one HfMoeConfig describes every layer's block alike");
            var value = values[0];
            if (value < min || value > max)
                throw f.Contradiction($"'{f.Name(field)}' must be {range}; got {value}.");
            return value;
        }

        private static System.IO.InvalidDataException Unsupported(HfConfigFields f, string field, string why) =>
            f.Contradiction($"model_type 'hunyuan_v1_moe': '{f.Name(field)}' {why}: not supported by MoeLayers.");
    }
}
