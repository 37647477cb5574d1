using System.Collections.Generic;
using TorchSharp;

namespace MoeLayers.Interop
{
    /// <summary>One tensor's header entry: key, dtype, shape and byte range in the data section, all validated.</summary>
    public sealed class SafetensorsTensorInfo
    {
        private readonly long[] _shape;

        internal SafetensorsTensorInfo(string key, SafetensorsDType dtype, long[] shape, long dataBegin, long dataEnd, long elementCount, string filePath)
        {
            FilePath = filePath;
            Key = key;
            DType = dtype;
            _shape = shape;
            DataBegin = dataBegin;
            DataEnd = dataEnd;
            ElementCount = elementCount;
        }

        /// <summary>The tensor's key, e.g. "model.layers.0.block_sparse_moe.gate.weight".</summary>
        public string Key { get; }

        /// <summary>The full path of the safetensors file holding the tensor (in a sharded checkpoint, its shard).</summary>
        public string FilePath { get; }

        /// <summary>The element type.</summary>
        public SafetensorsDType DType { get; }

        /// <summary>The element type as a TorchSharp scalar type (<c>Byte</c> for the float8 codes; see <see cref="SafetensorsDTypes.IsFloat8"/>).</summary>
        public torch.ScalarType ScalarType => DType.ToScalarType();

        /// <summary>The shape; empty for a scalar.</summary>
        public IReadOnlyList<long> Shape => _shape;

        /// <summary>The product of the shape (1 for a scalar, 0 when a dimension is 0).</summary>
        public long ElementCount { get; }

        /// <summary>Bytes the tensor occupies: <see cref="ElementCount"/> times the element size.</summary>
        public long ByteLength => DataEnd - DataBegin;

        /// <summary>Start of the tensor's bytes, counted from the start of the data section (after the header).</summary>
        public long DataBegin { get; }

        /// <summary>End (exclusive) of the tensor's bytes, counted from the start of the data section.</summary>
        public long DataEnd { get; }

        internal long[] ShapeArray => _shape;

        /// <summary>"key: BF16 [8, 16], bytes [0, 256)".</summary>
        public override string ToString() => $"{Key}: {DType.HeaderName()} {FormatShape(_shape)}, bytes [{DataBegin}, {DataEnd})";

        internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
    }
}
