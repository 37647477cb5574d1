using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Which decoder layers are MoE, as each family's decoder-layer constructor decides: one reason per layer, null for an
    /// MoE layer, else why it is dense in terms of the config.json field that makes it so.
    /// </summary>
    internal static class HfSchedule
    {
        /// <summary>Every layer is an MoE layer (Mixtral, OLMoE, and families without a schedule field).</summary>
        public static string?[] AllMoe(int layers) => new string?[layers];

        /// <summary>
        /// DeepSeek's rule: layer i is MoE when i ≥ first_k_dense_replace and i % moe_layer_freq == 0 (transformers'
        /// DeepseekV3DecoderLayer tests the first; DeepSeek's own modeling code and its published configs add the second,
        /// with moe_layer_freq = 1).
        /// </summary>
        public static string?[] FirstDense(HfConfigFields f, int layers, int firstDense, int frequency = 1)
        {
            var reasons = new string?[layers];
            for (var i = 0; i < layers; i++)
            {
                if (i < firstDense) reasons[i] = $"{f.Name("first_k_dense_replace")} = {firstDense} makes {(firstDense == 1 ? "layer 0" : $"layers 0–{firstDense - 1}")} dense";
                else if (i % frequency != 0) reasons[i] = $"{f.Name("moe_layer_freq")} = {frequency} makes only layers divisible by {frequency} MoE";
            }
            return reasons;
        }

        /// <summary>
        /// Qwen's rule (Qwen2MoeDecoderLayer, Qwen3MoeDecoderLayer): layer i is MoE when i is not in mlp_only_layers and
        /// num_experts &gt; 0 and (i + 1) % decoder_sparse_step == 0.
        /// </summary>
        public static string?[] SparseStep(HfConfigFields f, int layers, int step, IReadOnlyList<int> mlpOnly)
        {
            var reasons = new string?[layers];
            for (var i = 0; i < layers; i++)
            {
                if (mlpOnly.Contains(i)) reasons[i] = $"{f.Name("mlp_only_layers")} lists layer {i}";
                else if ((i + 1) % step != 0) reasons[i] = $"{f.Name("decoder_sparse_step")} = {step} makes only layers i with (i + 1) % {step} == 0 MoE";
            }
            return reasons;
        }
    }
}
