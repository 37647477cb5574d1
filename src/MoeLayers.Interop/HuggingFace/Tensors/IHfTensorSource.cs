using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Named tensors of a checkpoint as the block mapping sees them: one file or a sharded folder, with quantized
    /// tensors presented under their plain names and shapes and dequantized when read.
    /// </summary>
    internal interface IHfTensorSource
    {
        /// <summary>What the tensors come from (a file or folder path), for messages.</summary>
        string Location { get; }

        /// <summary>Every tensor name, as the block mapping sees them.</summary>
        IReadOnlyList<string> Keys { get; }

        /// <summary>The tensor's shape, or false when there is no such tensor.</summary>
        bool TryGetShape(string key, out long[] shape);

        /// <summary>Reads one tensor (CPU) in its stored floating dtype, or dequantized into <paramref name="dequantizeTo"/>.</summary>
        Tensor Read(string key, ScalarType dequantizeTo);

        /// <summary>The floating dtype a tensor is stored in (bfloat16 for quantized ones; float32 when there is no such key).</summary>
        ScalarType StoredDType(string key);

        /// <summary>Where one tensor lives (its file), for messages.</summary>
        string LocationOf(string key);
    }
}
