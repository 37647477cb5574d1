using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>The tensors of one .safetensors file, as a block source.</summary>
    internal sealed class SafetensorsFileSource(SafetensorsFile file) : IHfTensorSource
    {
        public string Location => file.FilePath;

        public IReadOnlyList<string> Keys => file.Keys;

        public bool TryGetShape(string key, out long[] shape)
        {
            var found = file.TryGetInfo(key, out var info);
            shape = found ? info!.Shape.ToArray() : System.Array.Empty<long>();
            return found;
        }

        public Tensor Read(string key, ScalarType dequantizeTo) => file.Read(key);

        public ScalarType StoredDType(string key) => file.TryGetInfo(key, out var info) ? info!.DType.ToScalarType() : ScalarType.Float32;

        public string LocationOf(string key) => file.FilePath;
    }
}
