using System;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// One pre-norm decoder layer (LlamaDecoderLayer's shape, shared by the five families):
    /// h = x + self_attn(input_layernorm(x)); out = h + feed_forward(post_attention_layernorm(h)). The feed-forward is a
    /// MoeLayers <see cref="MoeLayer"/> on the layers the schedule makes MoE (registered as "mlp", or Mixtral's
    /// "block_sparse_moe") and a <see cref="DenseMlp"/> elsewhere, so module paths are the published key prefixes.
    /// </summary>
    public sealed class DecoderLayer : nn.Module
    {
        // Field order is the state dict's (transformers registers self_attn, mlp, then the two norms); exactly one
        // feed-forward field is set, under the name the family's checkpoints use.
        [ComponentName(Name = "self_attn")]
        private readonly Attention _attention;

        [ComponentName(Name = "mlp")]
        private readonly DenseMlp? _denseMlp;

        [ComponentName(Name = "mlp")]
        private MoeLayer? _moe;

        [ComponentName(Name = "block_sparse_moe")]
        private MoeLayer? _blockSparseMoe;

        [ComponentName(Name = "input_layernorm")]
        private readonly RmsNorm _inputNorm;

        [ComponentName(Name = "post_attention_layernorm")]
        private readonly RmsNorm _postAttentionNorm;

        private readonly int _layer;

        /// <summary>Creates decoder layer <paramref name="layer"/> of <paramref name="config"/>.</summary>
        /// <param name="config">The model's config.</param>
        /// <param name="layer">The layer's index.</param>
        /// <param name="dtype">The weights' dtype (a MoE layer's router stays float32).</param>
        public DecoderLayer(MoeModelConfig config, int layer, ScalarType dtype) : base($"layer{layer}")
        {
            ArgumentNullException.ThrowIfNull(config);
            _layer = layer;
            _inputNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, config.NormWeightInFloat32, dtype);
            _attention = new Attention(config, layer, dtype);
            _postAttentionNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, config.NormWeightInFloat32, dtype);
            if (config.IsMoeLayer(layer))
            {
                var moe = new MoeLayer(config.Moe.ToOptions(), config.MoeBlockName);
                if (dtype != ScalarType.Float32) moe.to(dtype);
                if (config.MoeBlockName == "block_sparse_moe") _blockSparseMoe = moe;
                else _moe = moe;
            }
            else
            {
                _denseMlp = new DenseMlp(config.HiddenSize, config.IntermediateSize, dtype);
            }
            RegisterComponents();
        }

        /// <summary>The layer's feed-forward: a <see cref="MoeLayer"/> or a <see cref="DenseMlp"/>.</summary>
        public nn.Module<Tensor, Tensor> FeedForward => (nn.Module<Tensor, Tensor>?)_moe ?? _blockSparseMoe ?? (nn.Module<Tensor, Tensor>)_denseMlp!;

        /// <summary>The layer's MoE block, or null on a dense layer.</summary>
        public MoeLayer? Moe => _moe ?? _blockSparseMoe;

        /// <summary>
        /// Puts <paramref name="replacement"/> in the MoE block's place, under the same name and at the same position in
        /// the state dict (how a fine-tune swaps in a layer with adapters and back a merged one); returns the block it
        /// replaced, which the caller owns.
        /// </summary>
        /// <param name="replacement">A layer of the same name.</param>
        internal MoeLayer ReplaceMoe(MoeLayer replacement)
        {
            ArgumentNullException.ThrowIfNull(replacement);
            var current = Moe ?? throw new InvalidOperationException($"decoder layer {_layer} is dense: it has no MoE block to replace.");
            if (replacement.GetName() != current.GetName())
                throw new ArgumentException($"the replacement is named '{replacement.GetName()}'; decoder layer {_layer}'s MoE block is '{current.GetName()}'.", nameof(replacement));
            if (_moe is not null) _moe = replacement;
            else _blockSparseMoe = replacement;
            _internal_submodules[current.GetName()] = replacement;
            return current;
        }

        /// <summary>
        /// Applies the layer to h [B, T, d] at positions start … start + T − 1. In training mode (with autograd on) it also
        /// returns its MoE block's auxiliary losses of this forward, taken before this forward's dispose scope ends them
        /// (<see cref="MoeAuxiliaryLoss.Collect"/>); otherwise null.
        /// </summary>
        /// <param name="hidden">The residual stream.</param>
        /// <param name="rotary">cos and sin of the positions.</param>
        /// <param name="start">The first position.</param>
        /// <param name="cache">The KV cache, or null.</param>
        public (Tensor Hidden, Tensor? AuxiliaryLoss) Forward(Tensor hidden, (Tensor Cos, Tensor Sin) rotary, long start, KvCache? cache)
        {
            using var scope = NewDisposeScope();
            var h = hidden + _attention.Forward(_inputNorm.call(hidden), rotary, start, _layer, cache);
            var output = h + FeedForward.call(_postAttentionNorm.call(h));
            var auxiliary = training && is_grad_enabled() && Moe is { } moe ? MoeAuxiliaryLoss.Collect(moe).MoveToOuterDisposeScope() : null;
            return (output.MoveToOuterDisposeScope(), auxiliary);
        }
    }
}
