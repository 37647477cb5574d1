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
    }
}
