using System;
using System.Collections.Generic;
using MoeLayers.Interop;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// A whole Hugging Face MoE causal language model (qwen3_moe, olmoe, mixtral, gpt_oss, glm4_moe): the decoder stack
    /// ("model") and lm_head (absent when tied to the embeddings), with MoeLayers' <see cref="MoeLayer"/> as every MoE
    /// block. Parameters carry the published keys, so a folder loads by name and saves back under the same names.
    /// </summary>
    /// <remarks>
    /// Transcribed from transformers' *ForCausalLM / *Model forwards (the files scripts/moemodel/reference_model.py cites):
    /// logits = lm_head(norm(layers(embed_tokens(ids)))), positions counted from the cache's length. Built frozen (no
    /// parameter requires gradients) and loaded in eval mode; <see cref="Forward"/> is inference and records no autograd
    /// graph. A fine-tune (FineTuning/) unfreezes what it trains or adds LoRA adapters (<see cref="ModelAdapters"/>), calls
    /// <c>train()</c> and runs <see cref="TrainingForward"/>.
    /// </remarks>
    public sealed class MoeCausalLM : nn.Module
    {
        [ComponentName(Name = "model")]
        private readonly MoeDecoder _model;

        [ComponentName(Name = "lm_head")]
        private readonly Linear? _lmHead;

        private readonly RotaryEmbedding _rotary;

        /// <summary>Builds the model for <paramref name="config"/> with fresh weights in <paramref name="dtype"/> (MoE routers float32).</summary>
        /// <param name="config">The model's config.</param>
        /// <param name="dtype">Float32, BFloat16 or Float16: the dtype the model computes in.</param>
        public MoeCausalLM(MoeModelConfig config, ScalarType dtype) : base("causal_lm")
        {
            ArgumentNullException.ThrowIfNull(config);
            if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "the model computes in Float32, BFloat16 or Float16.");
            Config = config;
            DType = dtype;
            _rotary = new RotaryEmbedding(config.Rope);
            using (no_grad())
            {
                _model = new MoeDecoder(config, dtype);
                if (!config.TieWordEmbeddings) _lmHead = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, dtype: dtype);
            }
            RegisterComponents();
            foreach (var parameter in parameters()) parameter.requires_grad = false;
            // A model built (or loaded) inside the caller's dispose scope must outlive that scope.
            foreach (var parameter in parameters()) parameter.DetachFromDisposeScope();
            foreach (var buffer in buffers()) buffer.DetachFromDisposeScope();
        }

        /// <summary>The model's config.</summary>
        public MoeModelConfig Config { get; }

        /// <summary>The dtype the model computes in.</summary>
        public ScalarType DType { get; }

        /// <summary>The LoRA settings of the adapters the model carries (<see cref="ModelAdapters.Apply"/>), or null.</summary>
        public AdapterSettings? Adapters { get; internal set; }

        /// <summary>The decoder stack.</summary>
        public MoeDecoder Decoder => _model;

        /// <summary>The checkpoint key prefix of the decoder layers, where <see cref="HfCheckpoint.LoadInto"/> finds the MoE layers.</summary>
        public const string LayersPrefix = "model.layers.";

        /// <summary>
        /// Loads a model folder: config.json, the weights (model.safetensors or an index and shards; F32, BF16 or F16,
        /// converted into <paramref name="dtype"/>), every MoE block through <see cref="HfCheckpoint.LoadInto"/> and every
        /// other tensor by its published name, every key checked before any tensor is read. The model is new, so it loads
        /// layer by layer (peak memory: the model plus one layer's weights); a refused folder throws and the model is
        /// disposed. Nothing read from the folder executes code.
        /// </summary>
        /// <param name="folder">The model folder.</param>
        /// <param name="dtype">The dtype to compute in (Float32, BFloat16, Float16); MoE routers stay float32.</param>
        /// <param name="progress">Receives a report per tensor read, or null.</param>
        public static MoeCausalLM Load(string folder, ScalarType dtype, IProgress<LoadProgress>? progress = null)
        {
            ArgumentNullException.ThrowIfNull(folder);
            var config = MoeModelConfig.Read(folder);
            using var checkpoint = HfCheckpoint.Open(folder);
            var model = new MoeCausalLM(config, dtype);
            try
            {
                // A fresh model is discarded on failure, so it loads layer by layer (one layer's weights beside the model).
                CheckpointWeights.Load(model, checkpoint, progress, atomic: false);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            model.eval();
            return model;
        }

        /// <summary>
        /// Loads <paramref name="checkpoint"/>'s weights into this model. Every tensor outside the MoE blocks is checked
        /// (present, the expected shape, no unexpected key) and read before anything changes, then the MoE blocks are
        /// loaded (checked the same way by MoeLayers.Interop), then the rest is copied: a failure leaves the model as it was.
        /// </summary>
        /// <param name="checkpoint">The opened folder (its config must be this model's).</param>
        /// <param name="progress">Receives a report per tensor read, or null.</param>
        /// <exception cref="System.IO.InvalidDataException">A tensor is missing, has the wrong shape, or is not part of the model; the message names each key.</exception>
        public void LoadWeights(HfCheckpoint checkpoint, IProgress<LoadProgress>? progress = null)
        {
            ArgumentNullException.ThrowIfNull(checkpoint);
            ThrowIfAdapted("load a checkpoint's weights into it");
            CheckpointWeights.Load(this, checkpoint, progress, atomic: true);
        }

        /// <summary>
        /// Logits [B, T, vocab] float32 for token ids [B, T] (int64), without autograd. With a cache, the ids continue what
        /// it holds (their positions start at its length) and their keys and values are appended to it.
        /// </summary>
        /// <param name="inputIds">Token ids [B, T], int64, each in [0, vocab_size).</param>
        /// <param name="cache">A cache from <see cref="NewCache"/>, or null to run the ids alone.</param>
        /// <param name="lastPositionOnly">
        /// Return the last position's logits alone ([B, 1, vocab]): what generation needs, sparing the head's product over
        /// the whole prompt (at a published vocabulary of 150,000 that product dwarfs the rest of a long prefill).
        /// </param>
        public Tensor Forward(Tensor inputIds, KvCache? cache = null, bool lastPositionOnly = false)
        {
            CheckIds(inputIds);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (logits, _) = Run(inputIds, cache, lastPositionOnly);
            return logits.MoveToOuterDisposeScope();
        }

        /// <summary>
        /// A training forward (the model in training mode): logits [B, T, vocab] float32, differentiable in every parameter
        /// that requires gradients, and the sum over the MoE layers of their auxiliary losses (load balancing, weighted by
        /// the config's router_aux_loss_coef; a zero scalar for aux-loss-free families), to add to the task loss. The MoE
        /// layers count the step's loads for <see cref="MoeLoadBalancing.AfterOptimizerStep"/>.
        /// </summary>
        /// <param name="inputIds">Token ids [B, T], int64, each in [0, vocab_size).</param>
        /// <exception cref="InvalidOperationException">The model is in eval mode.</exception>
        public (Tensor Logits, Tensor AuxiliaryLoss) TrainingForward(Tensor inputIds)
        {
            CheckIds(inputIds);
            if (!training) throw new InvalidOperationException("TrainingForward needs the model in training mode: call train() first (and eval() after training).");
            using var scope = NewDisposeScope();
            using var grad = enable_grad();
            var (logits, auxiliary) = Run(inputIds, cache: null, lastPositionOnly: false);
            auxiliary ??= zeros(Array.Empty<long>(), ScalarType.Float32, logits.device);
            return (logits.MoveToOuterDisposeScope(), auxiliary.to(ScalarType.Float32).MoveToOuterDisposeScope());
        }

        private void CheckIds(Tensor inputIds)
        {
            ArgumentNullException.ThrowIfNull(inputIds);
            if (inputIds.dtype != ScalarType.Int64 || inputIds.dim() != 2 || inputIds.shape[1] == 0)
                throw new ArgumentException($"inputIds must be int64 [B, T] with T ≥ 1; got {inputIds.dtype} [{string.Join(", ", inputIds.shape)}].", nameof(inputIds));
            if (inputIds.numel() > 0)
            {
                var (low, high) = (inputIds.min().item<long>(), inputIds.max().item<long>());
                if (low < 0 || high >= Config.VocabSize)
                    throw new ArgumentOutOfRangeException(nameof(inputIds), $"token ids must be in [0, vocab_size = {Config.VocabSize}); got values in [{low}, {high}].");
            }
        }

        /// <summary>The forward both entry points share, in the caller's dispose scope and autograd mode.</summary>
        private (Tensor Logits, Tensor? AuxiliaryLoss) Run(Tensor inputIds, KvCache? cache, bool lastPositionOnly)
        {
            var start = cache?.Length ?? 0;
            var rotary = _rotary.Tables(start, inputIds.shape[1], DType, _model.EmbeddingWeight.device);
            var (hidden, auxiliary) = _model.Forward(inputIds.to(_model.EmbeddingWeight.device), rotary, start, cache);
            // A copy with its own strides: the slice hidden[:, -1:] keeps the stride T·d on its batch dimension, and
            // libtorch's linear then takes a path 100-200x slower (4-20 s against 0.04-0.1 s for a 151,936-wide head).
            if (lastPositionOnly) hidden = hidden.index_select(1, tensor(new[] { hidden.shape[1] - 1 }, device: hidden.device));
            var logits = _lmHead is null ? nn.functional.linear(hidden, _model.EmbeddingWeight) : _lmHead.call(hidden);
            return (logits.to(ScalarType.Float32), auxiliary);
        }

        /// <summary>A new, empty KV cache for this model.</summary>
        public KvCache NewCache() => new(Config.NumLayers);

        /// <summary>
        /// Writes the model as a Hugging Face folder, atomically: every tensor under its published name (the MoE blocks
        /// in the family's published layout), sharded at <paramref name="maxShardBytes"/> with model.safetensors.index.json,
        /// config.json, and from <paramref name="sourceFolder"/> generation_config.json and the tokenizer files
        /// (tokenizer.json, tokenizer_config.json, special_tokens_map.json, chat_template.jinja) where present.
        /// </summary>
        /// <param name="folder">The folder to write (created, or replaced as a whole).</param>
        /// <param name="sourceFolder">The folder the model was loaded from (its small files are copied), or null.</param>
        /// <param name="dtype">The storage dtype (default: the model's); config.json's torch_dtype / dtype says it.</param>
        /// <param name="maxShardBytes">The largest shard (default Hugging Face's 5·10⁹ bytes).</param>
        /// <exception cref="InvalidOperationException">The model carries LoRA adapters: merge them first (<see cref="ModelAdapters.MergeAndUnload"/>).</exception>
        public void Save(string folder, string? sourceFolder, ScalarType? dtype = null, long maxShardBytes = SafetensorsCheckpoint.DefaultMaxShardBytes)
        {
            ThrowIfAdapted("save it as a Hugging Face folder");
            ModelExport.Save(this, folder, sourceFolder, dtype ?? DType, maxShardBytes);
        }

        private void ThrowIfAdapted(string action)
        {
            if (Adapters is not null)
                throw new InvalidOperationException(
                    $"the model carries LoRA adapters (rank {Adapters.Rank}): merge them with ModelAdapters.MergeAndUnload before you {action}, or save the adapters alone.");
        }

        /// <summary>Every parameter outside the MoE blocks, by its published key, with the module's own tensor.</summary>
        internal IReadOnlyList<(string Key, Parameter Parameter)> NonMoeParameters()
        {
            var moePrefixes = new List<string>();
            for (var i = 0; i < Config.NumLayers; i++)
                if (Config.IsMoeLayer(i)) moePrefixes.Add($"{LayersPrefix}{i}.{Config.MoeBlockName}.");
            var result = new List<(string, Parameter)>();
            foreach (var (name, parameter) in named_parameters())
                if (!moePrefixes.Exists(p => name.StartsWith(p, StringComparison.Ordinal))) result.Add((name, parameter));
            return result;
        }
    }
}
