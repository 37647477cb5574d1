using System.Linq;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The decoder stack a causal LM holds as "model": embed_tokens, layers (ModuleList of <see cref="DecoderLayer"/>)
    /// and the final norm, so its parameters carry the published keys (model.embed_tokens.weight,
    /// model.layers.{i}.…, model.norm.weight).
    /// </summary>
    public sealed class MoeDecoder : nn.Module
    {
        [ComponentName(Name = "embed_tokens")]
        private readonly Embedding _embed;

        [ComponentName(Name = "layers")]
        private readonly ModuleList<DecoderLayer> _layers;

        [ComponentName(Name = "norm")]
        private readonly RmsNorm _norm;

        /// <summary>Creates the stack for <paramref name="config"/> in <paramref name="dtype"/>.</summary>
        /// <param name="config">The model's config.</param>
        /// <param name="dtype">The weights' dtype.</param>
        public MoeDecoder(MoeModelConfig config, ScalarType dtype) : base("model")
        {
            _embed = nn.Embedding(config.VocabSize, config.HiddenSize, dtype: dtype);
            _layers = nn.ModuleList(Enumerable.Range(0, config.NumLayers).Select(i => new DecoderLayer(config, i, dtype)).ToArray());
            _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, config.NormWeightInFloat32, dtype);
            RegisterComponents();
        }

        /// <summary>The token embedding matrix [vocab, d] (the tied lm_head's weight too).</summary>
        public Tensor EmbeddingWeight => _embed.weight!;

        /// <summary>The decoder layers.</summary>
        public ModuleList<DecoderLayer> Layers => _layers;

        /// <summary>
        /// Embeds ids [B, T], runs every layer at positions start …, and applies the final norm; returns [B, T, d] and, in
        /// training mode, the sum of the MoE layers' auxiliary losses of this forward (null otherwise).
        /// </summary>
        /// <param name="inputIds">Token ids, int64.</param>
        /// <param name="rotary">cos and sin of the positions.</param>
        /// <param name="start">The first position.</param>
        /// <param name="cache">The KV cache, or null.</param>
        public (Tensor Hidden, Tensor? AuxiliaryLoss) Forward(Tensor inputIds, (Tensor Cos, Tensor Sin) rotary, long start, KvCache? cache)
        {
            using var scope = NewDisposeScope();
            var h = _embed.call(inputIds);
            Tensor? auxiliary = null;
            foreach (var layer in _layers)
            {
                (h, var layerLoss) = layer.Forward(h, rotary, start, cache);
                if (layerLoss is not null) auxiliary = auxiliary is null ? layerLoss : auxiliary + layerLoss;
            }
            return (_norm.call(h).MoveToOuterDisposeScope(), auxiliary?.MoveToOuterDisposeScope());
        }
    }
}
