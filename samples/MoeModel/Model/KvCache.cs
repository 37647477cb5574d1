using System;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The keys and values every attention layer has computed so far, [B, kv_heads, T, head_dim] per layer (after the
    /// rotary embedding, before the heads are repeated for GQA), so a forward of new tokens attends to the earlier ones
    /// without recomputing them. Made by <see cref="MoeCausalLM.NewCache"/>, passed to each
    /// <see cref="MoeCausalLM.Forward"/>; it owns its tensors (outside any dispose scope) until disposed.
    /// </summary>
    /// <remarks>Sliding-window layers keep every position too; their mask hides the old ones.</remarks>
    public sealed class KvCache : IDisposable
    {
        private readonly Tensor?[] _keys;
        private readonly Tensor?[] _values;

        internal KvCache(int layers)
        {
            _keys = new Tensor?[layers];
            _values = new Tensor?[layers];
        }

        /// <summary>How many positions the cache holds (layer 0's; the next forward starts at this position).</summary>
        public long Length => _keys.Length == 0 || _keys[0] is null ? 0 : _keys[0]!.shape[2];

        /// <summary>Appends a layer's new keys and values [B, kv_heads, T, head_dim]; returns every position's.</summary>
        internal (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
        {
            if (_keys[layer] is { } held && held.shape[0] != keys.shape[0])
                throw new ArgumentException($"the cache holds a batch of {held.shape[0]}; this forward has {keys.shape[0]}.", nameof(keys));
            var allKeys = _keys[layer] is { } k ? cat(new[] { k, keys }, dim: 2) : keys.alias();
            var allValues = _values[layer] is { } v ? cat(new[] { v, values }, dim: 2) : values.alias();
            _keys[layer]?.Dispose();
            _values[layer]?.Dispose();
            _keys[layer] = allKeys.DetachFromDisposeScope();
            _values[layer] = allValues.DetachFromDisposeScope();
            return (allKeys.alias(), allValues.alias());
        }

        /// <summary>Releases the cached tensors.</summary>
        public void Dispose()
        {
            for (var i = 0; i < _keys.Length; i++)
            {
                _keys[i]?.Dispose();
                _values[i]?.Dispose();
                _keys[i] = _values[i] = null;
            }
        }
    }
}
