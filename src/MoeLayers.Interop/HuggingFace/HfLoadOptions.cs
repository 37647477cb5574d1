namespace MoeLayers.Interop
{
    /// <summary>How a Hugging Face MoE block is loaded.</summary>
    public sealed class HfLoadOptions
    {
        /// <summary>Refuse tensors under the block's prefix that the layer has no place for (default true).</summary>
        public bool Strict { get; init; } = true;

        /// <summary>Refuse a tensor holding NaN or infinity, naming it (default false: one pass over every value).</summary>
        public bool CheckFinite { get; init; }

        /// <summary>
        /// The dtype of the layers <see cref="HfCheckpoint.LoadLayer"/> builds (their routers stay float32): null keeps
        /// the checkpoint's floating dtype (bfloat16 stays bfloat16), and quantized weights are dequantized into bfloat16.
        /// </summary>
        public TorchSharp.torch.ScalarType? DType { get; init; }
    }
}
