using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// One Hugging Face model family: how its config.json is read (transformers' defaults, contradictions refused by
    /// field), which of its layers are MoE, and where its block's tensors live under which names. A new family is one
    /// subclass in this folder and its line in <see cref="HfFamilies"/>.
    /// </summary>
    internal abstract class HfFamily
    {
        /// <summary>The family.</summary>
        public abstract HfArchitecture Architecture { get; }

        /// <summary>The config.json model_type values this family reads.</summary>
        public abstract IReadOnlyList<string> ModelTypes { get; }

        /// <summary>Reads and checks the family's fields (the root object; a family with a nested text config reads it itself).</summary>
        public abstract HfMoeConfig Read(HfConfigFields fields);

        /// <summary>The checkpoint key prefix of decoder layer <paramref name="layer"/> ("model.layers.3."; DBRX, Nemotron-H and Llama 4 use others).</summary>
        public virtual string LayerPrefix(int layer) => $"model.layers.{layer}.";

        /// <summary>The block's tensor names and layouts for a config of this family.</summary>
        public abstract HfBlockLayout Layout(HfMoeConfig config);

        /// <summary>
        /// num_experts_per_tok in [1, E], read after E so that a contradiction names both fields (k = 0, k &gt; E).
        /// </summary>
        internal static int TopK(HfConfigFields f, int experts, string expertsField, int? fallback) =>
            f.Int("num_experts_per_tok", fallback, 1, experts, $"in [1, {f.Name(expertsField)} = {experts}]");

        /// <summary>
        /// Refuses k = 1 with renormalized weights: the published forward then weights each token's one expert by exactly
        /// 1, which MoeLayers' router does not compute (it refuses to renormalize a single weight, since no gradient would
        /// reach the router, and would otherwise weight the expert by its score).
        /// </summary>
        /// <param name="f">The config's fields.</param>
        /// <param name="topKField">The field that sets k (num_experts_per_tok, or the family's name for it).</param>
        /// <param name="topK">k.</param>
        /// <param name="renormalized">Whether the family divides the k weights by their sum.</param>
        internal static void RequireRenormalizableTopK(HfConfigFields f, string topKField, int topK, bool renormalized)
        {
            if (topK == 1 && renormalized)
                throw f.Contradiction($"model_type '{f.String("model_type", "")}': '{f.Name(topKField)}' = 1 with renormalized routing weights (each token's expert weighted by exactly 1) is not supported by MoeLayers: its router does not renormalize a single weight.");
        }

        /// <summary>hidden_act, which must be one of the activations the family's experts can use.</summary>
        protected static void RequireActivation(HfConfigFields f, string fallback, params string[] allowed) =>
            f.OneOf("hidden_act", fallback, allowed);
    }
}
