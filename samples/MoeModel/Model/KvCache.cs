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
    /// <remarks>
    /// Each layer's positions live in a buffer of room for more, which doubles when full: appending a token copies that
    /// token's keys and values only, and the buffers are copied O(log T) times over a generation (growing by concatenation
    /// would copy all T positions for every token, quadratic in the length). Sliding-window layers keep every position
    /// too; their mask hides the old ones.
    /// </remarks>
    public sealed class KvCache : IDisposable
    {
        /// <summary>The smallest buffer, in positions.</summary>
        private const long InitialCapacity = 256;

        private readonly Tensor?[] _keys;
        private readonly Tensor?[] _values;
        private readonly long[] _lengths;

        internal KvCache(int layers)
        {
            _keys = new Tensor?[layers];
            _values = new Tensor?[layers];
            _lengths = new long[layers];
        }

        /// <summary>How many positions the cache holds (layer 0's; the next forward starts at this position).</summary>
        public long Length => _lengths.Length == 0 ? 0 : _lengths[0];

        /// <summary>Appends a layer's new keys and values [B, kv_heads, T, head_dim]; returns every position's (views of the buffers).</summary>
        internal (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
        {
            if (_keys[layer] is { } held && held.shape[0] != keys.shape[0])
                throw new ArgumentException($"the cache holds a batch of {held.shape[0]}; this forward has {keys.shape[0]}.", nameof(keys));
            long length = _lengths[layer], total = length + keys.shape[2];
            if (_keys[layer] is not { } buffer || buffer.shape[2] < total)
            {
                var capacity = Math.Max(InitialCapacity, (_keys[layer]?.shape[2] ?? 0) * 2);
                while (capacity < total) capacity *= 2;
                _keys[layer] = Grown(_keys[layer], keys, length, capacity);
                _values[layer] = Grown(_values[layer], values, length, capacity);
            }
            using (no_grad())
            {
                _keys[layer]!.narrow(2, length, keys.shape[2]).copy_(keys);
                _values[layer]!.narrow(2, length, values.shape[2]).copy_(values);
            }
            _lengths[layer] = total;
            return (_keys[layer]!.narrow(2, 0, total), _values[layer]!.narrow(2, 0, total));
        }

        /// <summary>A buffer of <paramref name="capacity"/> positions shaped like <paramref name="like"/>, holding the first <paramref name="length"/> positions of <paramref name="old"/> (which it disposes).</summary>
        private static Tensor Grown(Tensor? old, Tensor like, long length, long capacity)
        {
            var grown = empty(new[] { like.shape[0], like.shape[1], capacity, like.shape[3] }, like.dtype, like.device);
            grown.DetachFromDisposeScope();
            if (old is not null)
            {
                using (no_grad()) grown.narrow(2, 0, length).copy_(old.narrow(2, 0, length));
                old.Dispose();
            }
            return grown;
        }

        /// <summary>Releases the cached tensors.</summary>
        public void Dispose()
        {
            for (var i = 0; i < _keys.Length; i++)
            {
                _keys[i]?.Dispose();
                _values[i]?.Dispose();
                _keys[i] = _values[i] = null;
                _lengths[i] = 0;
            }
        }
    }
}
