using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The published tensors of MoE layers as writer sources, made one layer at a time: a layer's block is mapped when its
    /// first tensor is written and released when the next layer's is, so saving a model holds one layer's mapped
    /// tensors beside the model rather than all of them.
    /// </summary>
    internal sealed class PublishedBlocks(HfMoeConfig config, HfExpertLayout layout, ScalarType dtype) : IDisposable
    {
        private (MoeLayer Layer, string Prefix)? _current;
        private Dictionary<string, Tensor> _block = new();

        /// <summary>One source per tensor of <paramref name="layer"/>'s block under <paramref name="layerPrefix"/>, in key order.</summary>
        public IEnumerable<SafetensorsTensorSource> Sources(MoeLayer layer, string layerPrefix)
        {
            var family = config.Family.Layout(config);
            var codec = family.Codec(layout, config.Architecture);
            var block = layerPrefix + codec.BlockName;
            foreach (var (key, shape) in HfMoeBlock.ExpectedShapes(config, family, codec).OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                var stored = HfMoeBlock.StorageDType(family, key, dtype);
                var full = block + key;
                SafetensorsDTypes.TryFromScalarType(stored, out var storedType);
                yield return new SafetensorsTensorSource(full, storedType, shape, () => Take(layer, layerPrefix, full));
            }
        }

        /// <inheritdoc />
        public void Dispose() => Release();

        private Tensor Take(MoeLayer layer, string layerPrefix, string key)
        {
            if (_current is not { } current || !ReferenceEquals(current.Layer, layer) || current.Prefix != layerPrefix)
            {
                Release();
                using var scope = NewDisposeScope();
                _block = HfMoeBlock.Published(layer, config, layerPrefix, layout, dtype);
                foreach (var tensor in _block.Values) tensor.DetachFromDisposeScope();
                _current = (layer, layerPrefix);
            }
            var taken = _block[key];
            _block.Remove(key);
            return taken;
        }

        private void Release()
        {
            foreach (var tensor in _block.Values) tensor.Dispose();
            _block = new Dictionary<string, Tensor>();
            _current = null;
        }
    }
}
