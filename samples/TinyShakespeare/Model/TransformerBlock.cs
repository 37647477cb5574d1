using MoeLayers.Distributed;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using MoeFactory = MoeLayers.Moe;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// A pre-norm transformer block whose feed-forward is a Mixture-of-Experts layer:
    /// x + Attention(LN(x)), then x + Dropout(MoE(LN(x))). The MoE layer takes [B, T, C] directly.
    /// </summary>
    public sealed class TransformerBlock : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "ln1")]
        private readonly LayerNorm _attentionNorm;

        [ComponentName(Name = "attention")]
        private readonly CausalSelfAttention _attention;

        [ComponentName(Name = "ln2")]
        private readonly LayerNorm _moeNorm;

        [ComponentName(Name = "moe")]
        private readonly MoeLayer _moe;

        private readonly double _dropout;

        /// <summary>Creates one block of the model <paramref name="config"/> describes.</summary>
        /// <param name="config">A validated model configuration.</param>
        /// <param name="name">Module name.</param>
        /// <param name="communicator">Null: a one-process MoE layer (<c>Moe.Create</c>). Otherwise the ranks its experts are
        /// sharded over: an <see cref="MoeLayer"/>, whose every forward is a collective.</param>
        public TransformerBlock(ModelConfig config, string name = "block", ICommunicator? communicator = null)
            : base(name)
        {
            _dropout = config.Dropout;
            _attentionNorm = nn.LayerNorm(config.EmbedDim);
            _attention = new CausalSelfAttention(config.EmbedDim, config.Heads, config.Dropout);
            _moeNorm = nn.LayerNorm(config.EmbedDim);
            _moe = communicator is null ? MoeFactory.Create(config.ToMoeOptions()) : ExpertParallel.Create(config.ToMoeOptions(), communicator);
            RegisterComponents();
        }

        /// <summary>The block's MoE feed-forward layer (for its auxiliary loss and routing statistics).</summary>
        public MoeLayer Moe => _moe;

        /// <summary>Applies the block to x [B, T, C].</summary>
        public override Tensor forward(Tensor input)
        {
            var x = input + _attention.call(_attentionNorm.call(input));
            return x + nn.functional.dropout(_moe.call(_moeNorm.call(x)), _dropout, training);
        }
    }
}
