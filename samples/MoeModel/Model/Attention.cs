using System;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// Grouped-query self-attention as the five families compute it: q/k/v projections (biases where the family has
    /// them), the family's QK norm, the rotary embedding, the KV cache, a causal (optionally sliding-window) mask,
    /// softmax in float32 — with gpt-oss's learned sinks as an extra logit column that is dropped after the softmax —
    /// and o_proj. State dict: q_proj, k_proj, v_proj, o_proj (.weight, .bias where present), q_norm, k_norm, sinks.
    /// </summary>
    /// <remarks>
    /// Without sinks or a sliding window this is libtorch's scaled_dot_product_attention (scale head_dim^-0.5, its own
    /// causal flag, or a boolean mask when new tokens follow cached ones; a single new token attends per KV head, its
    /// group of query heads as a block of queries, so the cached keys and values are not repeated); with them, the explicit softmax of gpt-oss's
    /// eager_attention_forward (modular_gpt_oss.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86): logits + mask, the sink
    /// column appended, the row maximum subtracted, softmax, the sink column dropped. A sliding window of w lets a query
    /// see keys at positions p − w &lt; k ≤ p (masking_utils' sliding_window_overlay).
    /// </remarks>
    public sealed class Attention : nn.Module
    {
        [ComponentName(Name = "q_proj")]
        private readonly AdaptableLinear _q;

        [ComponentName(Name = "k_proj")]
        private readonly AdaptableLinear _k;

        [ComponentName(Name = "v_proj")]
        private readonly AdaptableLinear _v;

        [ComponentName(Name = "o_proj")]
        private readonly AdaptableLinear _o;

        [ComponentName(Name = "q_norm")]
        private readonly RmsNorm? _qNorm;

        [ComponentName(Name = "k_norm")]
        private readonly RmsNorm? _kNorm;

        [ComponentName(Name = "sinks")]
        private readonly Parameter? _sinks;

        private readonly MoeModelConfig _config;
        private readonly int? _window;

        /// <summary>Creates layer <paramref name="layer"/>'s attention for <paramref name="config"/>.</summary>
        /// <param name="config">The model's config.</param>
        /// <param name="layer">The decoder layer (its sliding window).</param>
        /// <param name="dtype">The weights' dtype.</param>
        public Attention(MoeModelConfig config, int layer, ScalarType dtype) : base("self_attn")
        {
            ArgumentNullException.ThrowIfNull(config);
            _config = config;
            _window = config.SlidingWindows[layer];
            long d = config.HiddenSize, hd = config.HeadDim, h = config.NumHeads, kv = config.NumKeyValueHeads;
            _q = new AdaptableLinear(d, h * hd, config.QkvBias, dtype);
            _k = new AdaptableLinear(d, kv * hd, config.QkvBias, dtype);
            _v = new AdaptableLinear(d, kv * hd, config.QkvBias, dtype);
            _o = new AdaptableLinear(h * hd, d, config.OutputBias, dtype);
            if (config.QkNorm == QkNorm.PerHead)
            {
                _qNorm = new RmsNorm(hd, config.RmsNormEps, config.NormWeightInFloat32, dtype);
                _kNorm = new RmsNorm(hd, config.RmsNormEps, config.NormWeightInFloat32, dtype);
            }
            else if (config.QkNorm == QkNorm.WholeProjection)
            {
                _qNorm = new RmsNorm(h * hd, config.RmsNormEps, config.NormWeightInFloat32, dtype);
                _kNorm = new RmsNorm(kv * hd, config.RmsNormEps, config.NormWeightInFloat32, dtype);
            }
            if (config.AttentionSinks) _sinks = new Parameter(zeros(h, dtype: dtype), requires_grad: false);
            RegisterComponents();
        }

        /// <summary>
        /// Attends x [B, T, d] at positions start … start + T − 1 (the rotary tables of those positions) to itself and to
        /// the cached positions 0 … start − 1; appends its keys and values to <paramref name="cache"/> when given.
        /// </summary>
        /// <param name="x">The normalized hidden states.</param>
        /// <param name="rotary">cos and sin [T, rotary_dim] of x's positions.</param>
        /// <param name="start">x's first position (the cache's length before this forward).</param>
        /// <param name="layer">This layer's index in the cache.</param>
        /// <param name="cache">The KV cache, or null to attend within x only.</param>
        public Tensor Forward(Tensor x, (Tensor Cos, Tensor Sin) rotary, long start, int layer, KvCache? cache)
        {
            using var scope = NewDisposeScope();
            long batch = x.shape[0], time = x.shape[1], hd = _config.HeadDim, heads = _config.NumHeads, kvHeads = _config.NumKeyValueHeads;
            var q = _q.call(x);
            var k = _k.call(x);
            var v = _v.call(x);
            if (_config.QkNorm == QkNorm.WholeProjection)
            {
                q = _qNorm!.call(q);
                k = _kNorm!.call(k);
                if (_config.ClipQkv is { } clip)
                {
                    q = q.clamp(-clip, clip);
                    k = k.clamp(-clip, clip);
                    v = v.clamp(-clip, clip);
                }
            }
            q = q.view(batch, time, heads, hd);
            k = k.view(batch, time, kvHeads, hd);
            v = v.view(batch, time, kvHeads, hd);
            if (_config.QkNorm == QkNorm.PerHead)
            {
                q = _qNorm!.call(q);
                k = _kNorm!.call(k);
            }
            q = RotaryEmbedding.Apply(q.transpose(1, 2), rotary.Cos, rotary.Sin);
            k = RotaryEmbedding.Apply(k.transpose(1, 2), rotary.Cos, rotary.Sin);
            v = v.transpose(1, 2);
            if (cache is not null) (k, v) = cache.Append(layer, k, v);
            var groups = heads / kvHeads;
            Tensor attended;
            if (time == 1 && _sinks is null && _window is null)
            {
                // One new token sees every cached key, so each KV head's group of query heads attends as a block of
                // `groups` queries to that head's keys: grouped-query attention without repeating the keys and values
                // (a copy of the whole cache per layer and token). Query head h = j·groups + g is row g of KV head j.
                attended = nn.functional.scaled_dot_product_attention(q.reshape(batch, kvHeads, groups, hd), k, v).reshape(batch, heads, 1, hd);
            }
            else
            {
                if (groups > 1)
                {
                    k = k.repeat_interleave(groups, dim: 1);
                    v = v.repeat_interleave(groups, dim: 1);
                }
                attended = _sinks is null && _window is null ? Fused(q, k, v, start) : Explicit(q, k, v, start);
            }
            var merged = attended.transpose(1, 2).reshape(batch, time, heads * hd);
            return _o.call(merged).MoveToOuterDisposeScope();
        }

        /// <summary>libtorch's fused attention for several new tokens: its causal flag without a cache, else a boolean mask.</summary>
        private static Tensor Fused(Tensor q, Tensor k, Tensor v, long start)
        {
            long queries = q.shape[2], keys = k.shape[2];
            if (queries == keys) return nn.functional.scaled_dot_product_attention(q, k, v, null, 0.0, true);
            return nn.functional.scaled_dot_product_attention(q, k, v, Allowed(start, queries, keys, null, q.device));
        }

        /// <summary>The explicit softmax: float32 logits, mask, sinks, softmax, back to the values' dtype.</summary>
        private Tensor Explicit(Tensor q, Tensor k, Tensor v, long start)
        {
            long batch = q.shape[0], heads = q.shape[1], queries = q.shape[2], keys = k.shape[2];
            var logits = matmul(q, k.transpose(2, 3)).to(ScalarType.Float32) * Math.Pow(_config.HeadDim, -0.5);
            logits = logits.masked_fill(Allowed(start, queries, keys, _window, q.device).logical_not(), float.MinValue);
            Tensor probabilities;
            if (_sinks is not null)
            {
                var sinks = _sinks.to(ScalarType.Float32).reshape(1, heads, 1, 1).expand(batch, heads, queries, 1);
                var combined = cat(new[] { logits, sinks }, dim: -1);
                combined = combined - combined.max(-1, keepdim: true).values;
                probabilities = combined.softmax(-1).narrow(-1, 0, keys);
            }
            else
            {
                probabilities = logits.softmax(-1);
            }
            return matmul(probabilities.to(v.dtype), v);
        }

        /// <summary>[queries, keys] true where query start + i may see key j: j ≤ start + i, and j > start + i − window.</summary>
        private static Tensor Allowed(long start, long queries, long keys, int? window, Device device)
        {
            var queryPositions = arange(start, start + queries, dtype: ScalarType.Int64, device: device).unsqueeze(1);
            var keyPositions = arange(0, keys, dtype: ScalarType.Int64, device: device).unsqueeze(0);
            var allowed = keyPositions <= queryPositions;
            if (window is { } w) allowed = allowed.logical_and(keyPositions > queryPositions - w);
            return allowed;
        }
    }
}
