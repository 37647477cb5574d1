using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>
    /// DeepSeek-V4 ("deepseek_v4"), refused. Its MoE block needs three things the core does not compute (transformers
    /// src/transformers/models/deepseek_v4/configuration_deepseek_v4.py @ b5b741e52e24b1c394ae4a0b13df86846284a1d3):
    /// scores sqrt(softplus(logit)) (scoring_func "sqrtsoftplus", the default); "hash_moe" layers (mlp_layer_types, or
    /// the first num_hash_layers = 3 layers) that route by a frozen table of the token id (tid2eid[input_ids]), which a
    /// block given hidden states cannot know; and routed experts whose gate/up pre-activations are clamped by
    /// swiglu_limit (10.0). The message names the parts the given config uses.
    /// </summary>
    internal sealed class DeepseekV4Refusal : HfRefusal
    {
        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "deepseek_v4" };

        public override string Missing(HfConfigFields f)
        {
            var missing = new List<string>();
            var scoring = f.String("scoring_func", "sqrtsoftplus");
            if (scoring == "sqrtsoftplus") missing.Add($"sqrt(softplus) router scores ('{f.Name("scoring_func")}' = 'sqrtsoftplus')");
            var hashLayers = f.Has("mlp_layer_types")
                ? f.StringList("mlp_layer_types").Count(t => t == "hash_moe")
                : f.Int("num_hash_layers", 3, 0);
            if (hashLayers > 0)
                missing.Add($"hash routing by token id in {hashLayers} layer(s) ('{f.Name(f.Has("mlp_layer_types") ? "mlp_layer_types" : "num_hash_layers")}': " +
                            "the experts come from a frozen tid2eid table indexed by input_ids, not from the hidden state)");
            var limit = f.Double("swiglu_limit", 10.0);
            if (limit > 0) missing.Add($"SwiGLU with clamped gate/up pre-activations ('{f.Name("swiglu_limit")}' = {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
            if (missing.Count == 0) missing.Add("DeepSeek-V4's router and experts, which MoeLayers has not transcribed");
            return string.Join("; ", missing) + ".";
        }
    }
}
