using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>How MoE layers are written as a Hugging Face model folder.</summary>
    public sealed class HfSaveOptions
    {
        /// <summary>The experts' layout: null (default) for the one the family publishes on the Hub, or another the family has (e.g. v5's fused).</summary>
        public HfExpertLayout? Layout { get; init; }

        /// <summary>Storage dtype: Float32, Float16 or BFloat16 (default); a balance bias stays float32 as published.</summary>
        public ScalarType DType { get; init; } = ScalarType.BFloat16;

        /// <summary>The largest shard in bytes (Hugging Face's default "5GB", 5·10⁹); a larger tensor gets a shard of its own.</summary>
        public long MaxShardBytes { get; init; } = 5_000_000_000;

        /// <summary>
        /// The rest of the model, written beside the MoE blocks under their own keys (embeddings, attention, norms, dense
        /// MLPs, lm_head), each in the dtype its source declares: a whole model folder in one atomic write. A tensor of
        /// decoder layer i (a key under the family's layer prefix of i) is written with layer i, before its block; the
        /// others keep their order, those given before the first layer tensor ahead of the layers and the rest after
        /// them. A key that is also a block's, or given twice, is refused. Null or empty: the MoE blocks alone.
        /// </summary>
        public IReadOnlyList<SafetensorsTensorSource>? OtherTensors { get; init; }

        /// <summary>
        /// Files written into the folder beside config.json, by plain file name (generation_config.json, tokenizer.json,
        /// tokenizer_config.json, ...). config.json and the weights' own file names are refused: the save writes those.
        /// </summary>
        public IReadOnlyDictionary<string, byte[]>? ExtraFiles { get; init; }
    }
}
