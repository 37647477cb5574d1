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
        protected static int TopK(HfConfigFields f, int experts, string expertsField, int fallback) =>
            f.Int("num_experts_per_tok", fallback, 1, experts, $"in [1, {f.Name(expertsField)} = {experts}]");

        /// <summary>
        /// Refuses k = 1 where the family always divides the chosen weights by their sum (or softmaxes over them): transformers
        /// then weights the single expert by exactly 1, whereas MoeLayers refuses that rule for k = 1 (the router would learn
        /// nothing) and would weight it by its probability.
        /// </summary>
        protected static void RequireTopKAboveOne(HfConfigFields f, int topK, string topKField, string rule)
        {
            if (topK == 1)
                throw f.Contradiction($"'{f.Name(topKField)}' = 1 with {rule} gives the one chosen expert a weight of exactly 1, which MoeLayers does not compute (it weights by the probability); use k ≥ 2.");
        }

        /// <summary>hidden_act, which must be one of the activations the family's experts can use.</summary>
        protected static void RequireActivation(HfConfigFields f, string fallback, params string[] allowed) =>
            f.OneOf("hidden_act", fallback, allowed);
    }
}
