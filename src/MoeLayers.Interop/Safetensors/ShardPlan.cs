using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// How Hugging Face splits a state dict into shards and names them, transcribed from huggingface_hub
    /// <c>src/huggingface_hub/serialization/_base.py</c> (<c>split_state_dict_into_shards_factory</c>) at
    /// github.com/huggingface/huggingface_hub commit ee0a4510f4bc15e26cb722be2efc2bdb01383ca0.
    /// </summary>
    internal static class ShardPlan
    {
        /// <summary>
        /// Greedy packing in the given order: a tensor larger than <paramref name="maxShardBytes"/> becomes a shard of its
        /// own, appended at once (before the shard being filled, as in huggingface_hub); otherwise, when it would take the
        /// current shard past the limit, the current shard is closed and a new one started. No reordering to fill shards
        /// better: sizes [6, 6, 2, 6, 2, 2] with a limit of 10 give [6], [6, 2], [6, 2, 2].
        /// </summary>
        public static List<List<SafetensorsTensorSource>> Split(IReadOnlyList<SafetensorsTensorSource> tensors, long maxShardBytes)
        {
            var shards = new List<List<SafetensorsTensorSource>>();
            var current = new List<SafetensorsTensorSource>();
            long currentBytes = 0;
            foreach (var tensor in tensors)
            {
                if (tensor.ByteLength > maxShardBytes)
                {
                    shards.Add(new List<SafetensorsTensorSource> { tensor });
                    continue;
                }

                if (currentBytes + tensor.ByteLength > maxShardBytes)
                {
                    shards.Add(current);
                    current = new List<SafetensorsTensorSource>();
                    currentBytes = 0;
                }

                current.Add(tensor);
                currentBytes += tensor.ByteLength;
            }

            if (current.Count > 0) shards.Add(current);
            return shards;
        }

        /// <summary>"model.safetensors" for a single shard, else "model-00002-of-00005.safetensors" (1-based, 5 digits).</summary>
        public static string FileName(int index, int count)
            => count <= 1 ? SafetensorsCheckpoint.SingleFileName : $"model-{index + 1:D5}-of-{count:D5}.safetensors";
    }
}
