using System;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// Multi-head causal self-attention on [B, T, C]: one fused q/k/v projection, libtorch's
    /// scaled_dot_product_attention with its causal mask (position t attends to positions ≤ t), an output projection
    /// and dropout. State dict names: qkv.weight, proj.weight, proj.bias.
    /// </summary>
    public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "qkv")]
        private readonly Linear _qkv;

        [ComponentName(Name = "proj")]
        private readonly Linear _proj;

        private readonly int _heads;
        private readonly double _dropout;

        /// <summary>Creates the attention for width <paramref name="embedDim"/> split into <paramref name="heads"/> heads.</summary>
        /// <param name="embedDim">Model width C.</param>
        /// <param name="heads">Number of heads; must divide C.</param>
        /// <param name="dropout">Dropout on the attention weights and on the output, in [0, 1).</param>
        /// <param name="name">Module name.</param>
        public CausalSelfAttention(int embedDim, int heads, double dropout, string name = "attention")
            : base(name)
        {
            if (heads < 1 || embedDim % heads != 0)
                throw new ArgumentException($"heads must be a positive divisor of embedDim ({embedDim}); got {heads}.", nameof(heads));
            _heads = heads;
            _dropout = dropout;
            _qkv = nn.Linear(embedDim, 3L * embedDim, hasBias: false);
            _proj = nn.Linear(embedDim, embedDim);
            RegisterComponents();
        }

        /// <summary>Attends x [B, T, C] causally; returns [B, T, C].</summary>
        public override Tensor forward(Tensor input)
        {
            var (batch, time, width) = (input.shape[0], input.shape[1], input.shape[2]);
            var qkv = _qkv.call(input).view(batch, time, 3, _heads, width / _heads).permute(2, 0, 3, 1, 4);
            var (q, k, v) = (qkv[0], qkv[1], qkv[2]);
            var dropout = training ? _dropout : 0.0;
            // TorchSharp spells the causal flag "is_casual"; it is passed by position to survive a rename.
            var attended = nn.functional.scaled_dot_product_attention(q, k, v, null, dropout, true);
            var merged = attended.transpose(1, 2).reshape(batch, time, width);
            return nn.functional.dropout(_proj.call(merged), dropout, training);
        }
    }
}
