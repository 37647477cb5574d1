using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MoeLayers.Interop;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// A model folder's config.json, typed: the decoder's shape (widths, heads, layers, norms, rotary embedding,
    /// attention variant per family) read with each family's transformers defaults, and the MoE block and schedule read
    /// by <see cref="HfMoeConfig"/>. Every error names the config.json field; an unsupported model_type is refused by name.
    /// </summary>
    /// <remarks>
    /// Defaults and rules transcribed from transformers (github.com/huggingface/transformers):
    /// configuration_qwen3_moe.py, configuration_olmoe.py, configuration_mixtral.py, configuration_gpt_oss.py
    /// (@ 02b8f42b4240dddea1b27c45d2dc95fb2682f841: head_dim 64, sliding_window 128, layer_types alternating sliding/full
    /// from layer 0, attention_bias true, the YaRN rope_scaling default) and configuration_glm4_moe.py (head_dim 128,
    /// partial_rotary_factor 0.5, use_qk_norm false, num_nextn_predict_layers 1); the modeling files each part cites.
    /// </remarks>
    public sealed class MoeModelConfig
    {
        /// <summary>The model_type values this decoder runs.</summary>
        public static IReadOnlyList<string> SupportedModelTypes { get; } = new[] { "qwen3_moe", "olmoe", "mixtral", "gpt_oss", "glm4_moe" };

        private MoeModelConfig(string source, string json, HfMoeConfig moe)
        {
            Source = source;
            Json = json;
            Moe = moe;
        }

        /// <summary>The config.json path the values came from.</summary>
        public string Source { get; }

        /// <summary>The config.json text as read.</summary>
        public string Json { get; }

        /// <summary>The family.</summary>
        public MoeModelFamily Family { get; private init; }

        /// <summary>model_type as written.</summary>
        public string ModelType { get; private init; } = "";

        /// <summary>vocab_size.</summary>
        public int VocabSize { get; private init; }

        /// <summary>hidden_size (d).</summary>
        public int HiddenSize { get; private init; }

        /// <summary>num_hidden_layers.</summary>
        public int NumLayers { get; private init; }

        /// <summary>num_attention_heads.</summary>
        public int NumHeads { get; private init; }

        /// <summary>num_key_value_heads (GQA: divides num_attention_heads).</summary>
        public int NumKeyValueHeads { get; private init; }

        /// <summary>head_dim (else hidden_size / num_attention_heads, or the family's default).</summary>
        public int HeadDim { get; private init; }

        /// <summary>intermediate_size: the dense MLP's width (OLMoE, Mixtral, gpt-oss: the experts' width; no dense layer).</summary>
        public int IntermediateSize { get; private init; }

        /// <summary>rms_norm_eps.</summary>
        public double RmsNormEps { get; private init; }

        /// <summary>Whether the norms multiply by the weight in float32 before casting back (gpt-oss) rather than after (the others).</summary>
        public bool NormWeightInFloat32 { get; private init; }

        /// <summary>tie_word_embeddings: lm_head is embed_tokens' matrix (no lm_head.weight in the folder).</summary>
        public bool TieWordEmbeddings { get; private init; }

        /// <summary>q_proj, k_proj and v_proj have biases (attention_bias).</summary>
        public bool QkvBias { get; private init; }

        /// <summary>o_proj has a bias (attention_bias, except GLM-4.5, whose o_proj never has one).</summary>
        public bool OutputBias { get; private init; }

        /// <summary>Where queries and keys are normalized.</summary>
        public QkNorm QkNorm { get; private init; }

        /// <summary>OLMoE's clip_qkv: q, k and v clamped to ±clip after the projections (and norms), or null.</summary>
        public double? ClipQkv { get; private init; }

        /// <summary>gpt-oss's learned per-head attention sinks (self_attn.sinks).</summary>
        public bool AttentionSinks { get; private init; }

        /// <summary>Per layer: the sliding window (a query sees the last window keys, itself included), or null for full attention.</summary>
        public IReadOnlyList<int?> SlidingWindows { get; private init; } = Array.Empty<int?>();

        /// <summary>The rotary embedding.</summary>
        public RopeSettings Rope { get; private init; } = new(10000, 0, null);

        /// <summary>max_position_embeddings.</summary>
        public int MaxPositionEmbeddings { get; private init; }

        /// <summary>The feed-forward's module name in a layer: "block_sparse_moe" for Mixtral's MoE layers, else "mlp".</summary>
        public string MoeBlockName { get; private init; } = "mlp";

        /// <summary>GLM-4.5's num_nextn_predict_layers: multi-token-prediction layers stored after the decoder layers, which
        /// transformers does not run; their tensors (model.layers.{num_hidden_layers + j}.…) are skipped when loading.</summary>
        public int NextTokenPredictionLayers { get; private init; }

        /// <summary>The MoE block and schedule (which layers are MoE), as MoeLayers.Interop reads them.</summary>
        public HfMoeConfig Moe { get; }

        /// <summary>bos_token_id, or null.</summary>
        public int? BosTokenId { get; private init; }

        /// <summary>eos_token_id (one or several), possibly empty.</summary>
        public IReadOnlyList<int> EosTokenIds { get; private init; } = Array.Empty<int>();

        /// <summary>pad_token_id, or null.</summary>
        public int? PadTokenId { get; private init; }

        /// <summary>Whether decoder layer <paramref name="layer"/>'s feed-forward is a MoE block (else a dense MLP).</summary>
        /// <param name="layer">A layer index in [0, <see cref="NumLayers"/>).</param>
        public bool IsMoeLayer(int layer) => Moe.IsMoeLayer(layer);

        /// <summary>Reads config.json from a model folder (or the config.json path itself).</summary>
        /// <param name="folder">The model folder, or its config.json.</param>
        /// <exception cref="InvalidDataException">A field is missing, has the wrong type or value, or the model_type is not supported; the message names it.</exception>
        public static MoeModelConfig Read(string folder)
        {
            ArgumentNullException.ThrowIfNull(folder);
            var path = Directory.Exists(folder) ? System.IO.Path.Combine(folder, "config.json") : folder;
            if (!File.Exists(path)) throw new FileNotFoundException($"No config.json at {path}; a Hugging Face model folder keeps it beside its weights.", path);
            return Parse(File.ReadAllText(path), path);
        }

        /// <summary>Parses the text of a config.json.</summary>
        /// <param name="json">The JSON text.</param>
        /// <param name="source">Where it came from, for messages.</param>
        /// <exception cref="InvalidDataException">As <see cref="Read"/>.</exception>
        public static MoeModelConfig Parse(string json, string source = "config.json")
        {
            ArgumentNullException.ThrowIfNull(json);
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(json);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
            }
            using (document)
            {
                var f = new ConfigFields(document.RootElement, source);
                var type = f.String("model_type") ?? throw f.Missing("model_type", $"one of {string.Join(", ", SupportedModelTypes)}");
                var family = type switch
                {
                    "qwen3_moe" => MoeModelFamily.Qwen3Moe,
                    "olmoe" => MoeModelFamily.Olmoe,
                    "mixtral" => MoeModelFamily.Mixtral,
                    "gpt_oss" => MoeModelFamily.GptOss,
                    "glm4_moe" => MoeModelFamily.Glm4Moe,
                    _ => throw f.Unsupported("model_type", $"\"{type}\"", $"the MoeModel decoder runs {string.Join(", ", SupportedModelTypes)}"),
                };
                return Build(f, family, type, json, HfMoeConfig.Parse(json, source));
            }
        }

        private static MoeModelConfig Build(ConfigFields f, MoeModelFamily family, string type, string json, HfMoeConfig moe)
        {
            var hidden = f.Int("hidden_size", min: 1);
            var heads = f.Int("num_attention_heads", min: 1);
            var kvHeads = f.Int("num_key_value_heads", family == MoeModelFamily.Olmoe ? heads : null, min: 1);
            if (heads % kvHeads != 0)
                throw new InvalidDataException($"{f.Source}: 'num_key_value_heads' = {kvHeads} must divide 'num_attention_heads' = {heads}.");
            var headDim = f.Int("head_dim", family switch
            {
                MoeModelFamily.GptOss => 64,
                MoeModelFamily.Glm4Moe => 128,
                _ => hidden % heads == 0 ? hidden / heads : throw new InvalidDataException($"{f.Source}: 'num_attention_heads' = {heads} must divide 'hidden_size' = {hidden} when 'head_dim' is absent."),
            }, min: 2);
            var layers = f.Int("num_hidden_layers", min: 1);
            if (layers != moe.NumLayers)
                throw new InvalidDataException($"{f.Source}: 'num_hidden_layers' = {layers} disagrees with the MoE schedule's {moe.NumLayers} layers.");
            var hasDense = Enumerable.Range(0, layers).Any(i => !moe.IsMoeLayer(i));
            var attentionBias = f.Bool("attention_bias", family == MoeModelFamily.GptOss);
            if (family == MoeModelFamily.Mixtral && attentionBias)
                throw f.Unsupported("attention_bias", "true", "Mixtral's attention has no biases");
            if (family == MoeModelFamily.Qwen3Moe && f.Bool("use_sliding_window", false))
                throw f.Unsupported("use_sliding_window", "true", "Qwen3-MoE runs here with full attention in every layer (as the published models do)");
            var qkNorm = family switch
            {
                MoeModelFamily.Qwen3Moe => QkNorm.PerHead,
                MoeModelFamily.Olmoe => QkNorm.WholeProjection,
                MoeModelFamily.Glm4Moe => f.Bool("use_qk_norm", false) ? QkNorm.PerHead : QkNorm.None,
                _ => QkNorm.None,
            };
            double? clip = family == MoeModelFamily.Olmoe ? f.NullableDouble("clip_qkv") : null;
            if (clip is <= 0) throw new InvalidDataException($"{f.Source}: 'clip_qkv' must be positive or null; got {clip}.");
            var eps = f.Double("rms_norm_eps", family == MoeModelFamily.Qwen3Moe ? 1e-6 : 1e-5);
            if (!(eps > 0)) throw new InvalidDataException($"{f.Source}: 'rms_norm_eps' must be positive; got {eps}.");
            var maxPositions = f.Int("max_position_embeddings", family switch
            {
                MoeModelFamily.Qwen3Moe => 32768,
                MoeModelFamily.Olmoe => 4096,
                MoeModelFamily.Mixtral => 4096 * 32,
                MoeModelFamily.GptOss => 131072,
                _ => 131072,
            }, min: 1);
            return new MoeModelConfig(f.Source, json, moe)
            {
                Family = family,
                ModelType = type,
                VocabSize = f.Int("vocab_size", min: 1),
                HiddenSize = hidden,
                NumLayers = layers,
                NumHeads = heads,
                NumKeyValueHeads = kvHeads,
                HeadDim = headDim,
                IntermediateSize = hasDense ? f.Int("intermediate_size", min: 1) : f.Int("intermediate_size", 0),
                RmsNormEps = eps,
                NormWeightInFloat32 = family == MoeModelFamily.GptOss,
                TieWordEmbeddings = f.Bool("tie_word_embeddings", false),
                QkvBias = attentionBias,
                OutputBias = attentionBias && family != MoeModelFamily.Glm4Moe,
                QkNorm = qkNorm,
                ClipQkv = clip,
                AttentionSinks = family == MoeModelFamily.GptOss,
                SlidingWindows = Windows(f, family, layers),
                Rope = ReadRope(f, family, headDim, maxPositions),
                MaxPositionEmbeddings = maxPositions,
                MoeBlockName = family == MoeModelFamily.Mixtral ? "block_sparse_moe" : "mlp",
                NextTokenPredictionLayers = family == MoeModelFamily.Glm4Moe ? f.Int("num_nextn_predict_layers", 1, min: 0) : 0,
                BosTokenId = f.NullableInt("bos_token_id"),
                EosTokenIds = f.IntOrList("eos_token_id"),
                PadTokenId = f.NullableInt("pad_token_id"),
            };
        }

        /// <summary>gpt-oss: layer_types (default: sliding on even layers) with sliding_window; Mixtral: sliding_window on every layer when set.</summary>
        private static int?[] Windows(ConfigFields f, MoeModelFamily family, int layers)
        {
            if (family == MoeModelFamily.Mixtral)
            {
                var window = f.NullableInt("sliding_window");
                if (window is < 1) throw new InvalidDataException($"{f.Source}: 'sliding_window' must be positive or null; got {window}.");
                return Enumerable.Repeat(window, layers).ToArray();
            }
            if (family != MoeModelFamily.GptOss) return new int?[layers];
            var size = f.Int("sliding_window", 128, min: 1);
            var types = f.StringList("layer_types") ?? Enumerable.Range(0, layers).Select(i => (i + 1) % 2 == 1 ? "sliding_attention" : "full_attention").ToArray();
            if (types.Count != layers)
                throw new InvalidDataException($"{f.Source}: 'layer_types' has {types.Count} entries; 'num_hidden_layers' is {layers}.");
            return types.Select((t, i) => t switch
            {
                "sliding_attention" => (int?)size,
                "full_attention" => null,
                _ => throw new InvalidDataException($"{f.Source}: 'layer_types[{i}]' = \"{t}\" is not supported; expected \"sliding_attention\" or \"full_attention\"."),
            }).ToArray();
        }

        private static RopeSettings ReadRope(ConfigFields f, MoeModelFamily family, int headDim, int maxPositions)
        {
            var theta = f.Double("rope_theta", family switch
            {
                MoeModelFamily.Mixtral => 1e6,
                MoeModelFamily.GptOss => 150000,
                _ => 10000,
            });
            if (!(theta > 1)) throw new InvalidDataException($"{f.Source}: 'rope_theta' must be greater than 1; got {theta}.");
            var partial = family == MoeModelFamily.Glm4Moe ? f.Double("partial_rotary_factor", 0.5) : f.Double("partial_rotary_factor", 1.0);
            if (!(partial > 0 && partial <= 1)) throw new InvalidDataException($"{f.Source}: 'partial_rotary_factor' must be in (0, 1]; got {partial}.");
            var rotary = (int)(headDim * partial);
            if (rotary < 2 || rotary % 2 != 0)
                throw new InvalidDataException($"{f.Source}: 'head_dim' · 'partial_rotary_factor' = {headDim} · {partial} must be an even number of channels of at least 2; got {rotary}.");
            var scaling = f.Nested("rope_scaling");
            if (scaling is null && family == MoeModelFamily.GptOss && !f.Has("rope_scaling"))
                return new RopeSettings(theta, rotary, new YarnScaling(32.0, 4096, 32, 1, false, 0.1 * Math.Log(32.0) + 1.0));
            if (scaling is null) return new RopeSettings(theta, rotary, null);
            var kind = scaling.String("rope_type") ?? scaling.String("type") ?? "default";
            switch (kind)
            {
                case "default":
                    return new RopeSettings(theta, rotary, null);
                case "yarn":
                    var factor = scaling.Double("factor");
                    if (!(factor >= 1)) throw new InvalidDataException($"{f.Source}: '{scaling.Name("factor")}' must be at least 1; got {factor}.");
                    var original = scaling.Int("original_max_position_embeddings", maxPositions, min: 1);
                    var betaFast = scaling.Double("beta_fast", 32);
                    var betaSlow = scaling.Double("beta_slow", 1);
                    var attention = scaling.NullableDouble("attention_factor") ?? DefaultAttentionFactor(factor, scaling.NullableDouble("mscale"), scaling.NullableDouble("mscale_all_dim"));
                    return new RopeSettings(theta, rotary, new YarnScaling(factor, original, betaFast == 0 ? 32 : betaFast, betaSlow == 0 ? 1 : betaSlow, scaling.Bool("truncate", true), attention));
                default:
                    throw scaling.Unsupported("rope_type", $"\"{kind}\"", "the decoder computes \"default\" and \"yarn\"");
            }
        }

        /// <summary>modeling_rope_utils._compute_yarn_parameters: get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) when both are set, else get_mscale(factor).</summary>
        private static double DefaultAttentionFactor(double factor, double? mscale, double? mscaleAllDim)
        {
            static double Mscale(double scale, double m) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
            return mscale is { } m && m != 0 && mscaleAllDim is { } all && all != 0 ? Mscale(factor, m) / Mscale(factor, all) : Mscale(factor, 1);
        }
    }
}
