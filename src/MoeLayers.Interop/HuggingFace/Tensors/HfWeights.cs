using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>The weights of a Hugging Face model folder: opened as a block source, and written as a sharded folder.</summary>
    internal static class HfWeights
    {
        /// <summary>Opens a folder, an index file or a .safetensors file (only headers are read).</summary>
        public static (SafetensorsCheckpoint Checkpoint, IHfTensorSource Tensors) Open(string path, (int Rows, int Columns) fp8Block)
        {
            var checkpoint = SafetensorsCheckpoint.Open(path);
            return (checkpoint, new CheckpointTensorSource(checkpoint, fp8Block));
        }

        /// <summary>Writes tensors (created one at a time, in order) and small files as a model folder, atomically.</summary>
        public static void Write(string folder, IEnumerable<SafetensorsTensorSource> tensors, long maxShardBytes, IReadOnlyDictionary<string, byte[]> files)
            => SafetensorsCheckpoint.Write(folder, tensors, maxShardBytes, null, files);
    }
}
