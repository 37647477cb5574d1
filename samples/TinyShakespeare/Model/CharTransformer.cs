using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Distributed;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// Decoder-only character transformer: token + learned position embeddings, <see cref="ModelConfig.Layers"/>
    /// pre-norm blocks with MoE feed-forwards, a final LayerNorm and a linear head. Token ids [B, T] → logits [B, T, V].
    /// </summary>
    public sealed class CharTransformer : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "token_embedding")]
        private readonly Embedding _tokenEmbedding;

        [ComponentName(Name = "position_embedding")]
        private readonly Embedding _positionEmbedding;

        [ComponentName(Name = "blocks")]
        private readonly ModuleList<TransformerBlock> _blocks;

        [ComponentName(Name = "ln_f")]
        private readonly LayerNorm _finalNorm;

        [ComponentName(Name = "lm_head")]
        private readonly Linear _head;

        /// <summary>Builds the model with freshly initialized weights (PyTorch's defaults, from the current torch seed).</summary>
        /// <param name="config">The model shape; validated here.</param>
        /// <param name="name">Module name.</param>
        /// <param name="communicator">Null for one process; otherwise every block's experts are sharded over these ranks
        /// (<see cref="MoeLayer"/>), so every forward is a collective.</param>
        public CharTransformer(ModelConfig config, string name = "char_transformer", ICommunicator? communicator = null)
            : base(name)
        {
            ArgumentNullException.ThrowIfNull(config);
            config.Validate();
            Config = config;
            _tokenEmbedding = nn.Embedding(config.VocabularySize, config.EmbedDim);
            _positionEmbedding = nn.Embedding(config.BlockSize, config.EmbedDim);
            _blocks = new ModuleList<TransformerBlock>(
                Enumerable.Range(0, config.Layers).Select(i => new TransformerBlock(config, $"block{i}", communicator)).ToArray());
            _finalNorm = nn.LayerNorm(config.EmbedDim);
            _head = nn.Linear(config.EmbedDim, config.VocabularySize);
            RegisterComponents();
        }

        /// <summary>The model shape.</summary>
        public ModelConfig Config { get; }

        /// <summary>The MoE layer of each block, first block first.</summary>
        public IReadOnlyList<MoeLayer> MoeLayers => _blocks.Select(b => b.Moe).ToArray();

        /// <summary>
        /// Number of trainable scalars of the whole model. With sharded experts every rank's experts count, so the figure
        /// is the one-process model's; this rank holds the replicated part and its own experts only.
        /// </summary>
        public long ParameterCount => parameters().Sum(p => p.numel()) + MoeLayers.Sum(OtherRanksExperts);

        private static long OtherRanksExperts(MoeLayer layer) =>
            layer.named_parameters().Where(p => p.name.StartsWith("experts.", StringComparison.Ordinal)).Sum(p => p.parameter.numel())
            * (layer.NumExperts / layer.LocalExperts - 1);

        /// <summary>Logits [B, T, V] for token ids [B, T] (int64, T ≤ block size, ids in [0, V)).</summary>
        public override Tensor forward(Tensor input)
        {
            if (input.dim() != 2 || input.dtype != ScalarType.Int64)
                throw new ArgumentException($"input must be int64 token ids [B, T]; got {input.dtype} [{string.Join(", ", input.shape)}].", nameof(input));
            var time = input.shape[1];
            if (time < 1 || time > Config.BlockSize)
                throw new ArgumentException($"input must have 1 to {Config.BlockSize} positions (the block size); got {time}.", nameof(input));
            var (lowest, highest) = (input.min().item<long>(), input.max().item<long>());
            if (lowest < 0 || highest >= Config.VocabularySize)
                throw new ArgumentException($"input ids must be in [0, {Config.VocabularySize}); got ids from {lowest} to {highest}.", nameof(input));

            var positions = arange(time, ScalarType.Int64, input.device);
            var x = _tokenEmbedding.call(input) + _positionEmbedding.call(positions);
            foreach (var block in _blocks) x = block.call(x);
            return _head.call(_finalNorm.call(x));
        }
    }
}
