using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Llama 4 (Scout, Maverick): the Hub checkpoints are Llama4ForConditionalGeneration, config.json model_type "llama4"
    /// with the text model's fields under text_config (model_type "llama4_text") and its decoder layers at
    /// language_model.model.layers.{i}.; Llama4ForCausalLM saves the text model alone (root model_type "llama4_text",
    /// layers at model.layers.{i}.). The MoE block (Llama4TextMoe, under feed_forward.): router logits
    /// feed_forward.router.weight [E, d]; the top k of the logits; each chosen expert's input is the token scaled by
    /// sigmoid(its logit) (the others get sigmoid(−∞) = 0, and a bias-free SwiGLU expert maps 0 to 0); the experts'
    /// outputs are summed, unweighted, and the shared expert's output on the unscaled token is added (no gate). So: sigmoid
    /// scores, top-k, no renormalization, no scaling, weights on the expert inputs. Experts: feed_forward.experts.gate_up_proj
    /// [E, d, 2h] input-major, gate = the first h columns, up = the last h (gate_up.chunk(2, dim=-1)), and
    /// feed_forward.experts.down_proj [E, h, d]; h = intermediate_size, also the shared expert's width
    /// (feed_forward.shared_expert.gate_proj / up_proj / down_proj). Layer i is MoE when it is in moe_layers, which defaults
    /// to range(interleave_moe_layer_step − 1, num_hidden_layers, interleave_moe_layer_step), i.e. (i + 1) % step == 0;
    /// other layers hold a dense Llama4TextMLP of width intermediate_size_mlp. Sources: transformers
    /// src/transformers/models/llama4/modeling_llama4.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6 (Llama4Router,
    /// Llama4TextMoe, Llama4TextExperts, Llama4TextDecoderLayer, Llama4ForConditionalGeneration.language_model),
    /// configuration_llama4.py @ 008e574391258935f3ecc3035c882e73bbcac419 (Llama4TextConfig defaults: hidden_size 5120,
    /// intermediate_size 8192, intermediate_size_mlp 16384, num_hidden_layers 48, num_local_experts 16,
    /// num_experts_per_tok 1, interleave_moe_layer_step 1, moe_layers None, router_aux_loss_coef 0.001, hidden_act
    /// "silu"; Llama4Config builds a default Llama4TextConfig when text_config is absent).
    /// </summary>
    /// <remarks>
    /// The router chooses by the logits; MoeLayers' top-k router chooses by sigmoid(logit), which orders the experts the
    /// same except where float32 rounds two different logits' sigmoids to the same value (both above about 16.6, where
    /// sigmoid is 1.0f): the weights then agree but the tie goes to the lower expert index rather than the larger logit.
    /// </remarks>
    /// <param name="textOnly">Reads a root "llama4_text" config (Llama4ForCausalLM, layers at model.layers.{i}.) rather
    /// than "llama4" with a nested text_config.</param>
    internal sealed class Llama4Family(bool textOnly) : HfFamily
    {
        public override HfArchitecture Architecture => textOnly ? HfArchitecture.Llama4Text : HfArchitecture.Llama4;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { textOnly ? "llama4_text" : "llama4" };

        public override HfMoeConfig Read(HfConfigFields root)
        {
            var f = textOnly ? root : root.NestedOrEmpty("text_config");
            var modelType = textOnly ? "llama4_text" : f.OneOf("model_type", "llama4_text", "llama4_text");
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 48, 1);
            var experts = f.Int("num_local_experts", 16, 1);
            var width = f.Int("intermediate_size", 8192, 1);
            return new HfMoeConfig(Schedule(f, layers))
            {
                Architecture = Architecture,
                ModelType = modelType,
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 5120, 1),
                ExpertWidth = width,
                NumExperts = experts,
                TopK = TopK(f, experts, "num_local_experts", 1),
                NormalizeTopK = false,
                ScoreFunction = ScoreFunction.Sigmoid,
                WeightExpertInputs = true,
                SharedExperts = 1,
                SharedWidth = width,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override string LayerPrefix(int layer) => textOnly ? $"model.layers.{layer}." : $"language_model.model.layers.{layer}.";

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("router.weight"),
            new HfExpertsCodec[] { new FusedGateUpCodec("feed_forward.", inputMajor: true) },
            new HfSharedExpertCodec("shared_expert."));

        /// <summary>
        /// Llama4TextConfig.moe_layers (listed, or every interleave_moe_layer_step-th layer) and Llama4TextDecoderLayer's
        /// `layer_idx in config.moe_layers`. A listed layer outside the model, and a model without MoE layers, are refused.
        /// </summary>
        private static string?[] Schedule(HfConfigFields f, int layers)
        {
            var reasons = new string?[layers];
            string why;
            if (f.Has("moe_layers"))
            {
                var listed = f.IntList("moe_layers");
                foreach (var i in listed.Where(i => i < 0 || i >= layers))
                    throw f.Contradiction($"'{f.Name("moe_layers")}' lists layer {i}, outside [0, {f.Name("num_hidden_layers")} = {layers}).");
                for (var i = 0; i < layers; i++)
                {
                    if (!listed.Contains(i)) reasons[i] = $"{f.Name("moe_layers")} does not list layer {i} (a dense Llama4TextMLP of width {f.Name("intermediate_size_mlp")})";
                }
                why = $"'{f.Name("moe_layers")}' = [{string.Join(", ", listed)}]";
            }
            else
            {
                var step = f.Int("interleave_moe_layer_step", 1, 1);
                for (var i = 0; i < layers; i++)
                {
                    if ((i + 1) % step != 0) reasons[i] = $"{f.Name("interleave_moe_layer_step")} = {step} makes only layers i with (i + 1) % {step} == 0 MoE";
                }
                why = $"'{f.Name("interleave_moe_layer_step")}' = {step} with '{f.Name("num_hidden_layers")}' = {layers}";
            }
            if (reasons.All(r => r is not null))
                throw f.Contradiction($"{why} leaves no MoE layer: the model has no MoE block to load.");
            return reasons;
        }
    }
}
