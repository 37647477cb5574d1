using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The sparse-MoE fields of a Hugging Face model's config.json — read per family with transformers' defaults for
    /// absent fields, contradictions refused naming the field — the model's schedule (which decoder layers are MoE), and
    /// the <see cref="MoeLayerOptions"/> that reproduce its block. Each family's fields, defaults and sources are listed
    /// in the package README (src/MoeLayers.Interop/README.md).
    /// </summary>
    public sealed class HfMoeConfig
    {
        private readonly IReadOnlyList<string?> _denseReasons;

        internal HfMoeConfig(IReadOnlyList<string?> denseReasons) => _denseReasons = denseReasons;

        /// <summary>The config.json text this was read from (written back unchanged when a folder is saved).</summary>
        internal string Json { get; private set; } = "{}";

        /// <summary>The model family.</summary>
        public HfArchitecture Architecture { get; internal init; }

        /// <summary>config.json's model_type (the nested text model's where the family nests one, e.g. "qwen3_5_moe_text").</summary>
        public string ModelType { get; internal init; } = "";

        /// <summary>Where the config was read from.</summary>
        public string Source { get; internal init; } = "config.json";

        /// <summary>hidden_size (d).</summary>
        public int HiddenSize { get; internal init; }

        /// <summary>Routed experts E (num_local_experts, num_experts or n_routed_experts).</summary>
        public int NumExperts { get; internal init; }

        /// <summary>num_experts_per_tok (k).</summary>
        public int TopK { get; internal init; }

        /// <summary>Width of one routed expert.</summary>
        public int ExpertWidth { get; internal init; }

        /// <summary>Whether the k routing weights are rescaled to sum to 1 (norm_topk_prob; fixed by some families).</summary>
        public bool NormalizeTopK { get; internal init; }

        /// <summary>The order of softmax and top-k (top-k of the logits then softmax over the k: gpt-oss, Granite).</summary>
        public TopKOrder TopKOrder { get; internal init; } = TopKOrder.SoftmaxThenTopK;

        /// <summary>Shared experts (DeepSeek n_shared_experts; 1 for a family with one shared expert; else 0).</summary>
        public int SharedExperts { get; internal init; }

        /// <summary>Width of each shared expert.</summary>
        public int SharedWidth { get; internal init; }

        /// <summary>Whether the shared expert's output is gated by sigmoid(x·w) (Qwen's shared_expert_gate).</summary>
        public bool SharedExpertGate { get; internal init; }

        /// <summary>n_group (1 when absent).</summary>
        public int ExpertGroups { get; internal init; } = 1;

        /// <summary>topk_group (1 when absent).</summary>
        public int TopKGroups { get; internal init; } = 1;

        /// <summary>topk_method (DeepSeek: "noaux_tc", "group_limited_greedy" or "greedy"; "" elsewhere).</summary>
        public string TopKMethod { get; internal init; } = "";

        /// <summary>How a group is scored when <see cref="ExpertGroups"/> &gt; 1.</summary>
        public GroupScore GroupScore { get; internal init; } = GroupScore.SumOfTopTwo;

        /// <summary>routed_scaling_factor (1 when the family has none).</summary>
        public double RoutedScalingFactor { get; internal init; } = 1.0;

        /// <summary>Affinities the router selects by: softmax or sigmoid (scoring_func, or the family's fixed rule).</summary>
        public ScoreFunction ScoreFunction { get; internal init; } = ScoreFunction.Softmax;

        /// <summary>router_aux_loss_coef (the family's default when absent).</summary>
        public double AuxiliaryLossCoefficient { get; internal init; } = 0.01;

        /// <summary>Whether the router has a selection-only per-expert bias (DeepSeek-V3's e_score_correction_bias and its kin).</summary>
        public bool HasBalanceBias { get; internal init; }

        /// <summary>The experts' activation.</summary>
        public ExpertActivation Activation { get; internal init; } = ExpertActivation.SwiGlu;

        /// <summary>Whether the experts' projections have biases.</summary>
        public bool ExpertBias { get; internal init; }

        /// <summary>Whether the router adds a learned bias to its logits (gpt-oss's router.bias).</summary>
        public bool RouterBias { get; internal init; }

        /// <summary>
        /// quantization_config.quant_method: "" for unquantized weights, "fp8" (block-scaled F8_E4M3 weights with
        /// weight_scale_inv) or "mxfp4" (gpt-oss's *_blocks and *_scales); quantized weights are dequantized on load.
        /// </summary>
        public string QuantizationMethod { get; private set; } = "";

        /// <summary>quantization_config.weight_block_size of an FP8 checkpoint ([128, 128] when absent).</summary>
        internal (int Rows, int Columns) Fp8BlockSize { get; private set; } = (128, 128);

        /// <summary>The clamped SwiGLU's α (gpt-oss: 1.702); used only by <see cref="ExpertActivation.ClampedSwiGlu"/>.</summary>
        public double SwiGluAlpha { get; internal init; } = 1.702;

        /// <summary>The clamped SwiGLU's limit (gpt-oss: swiglu_limit, 7.0); used only by <see cref="ExpertActivation.ClampedSwiGlu"/>.</summary>
        public double SwiGluLimit { get; internal init; } = 7.0;

        /// <summary>Whether the routing weight multiplies the expert's input rather than its output (Llama 4).</summary>
        public bool WeightExpertInputs { get; internal init; }

        /// <summary>num_hidden_layers.</summary>
        public int NumLayers { get; internal init; }

        /// <summary>The decoder layers whose feed-forward block is an MoE block, ascending.</summary>
        public IReadOnlyList<int> MoeLayerIndices => Enumerable.Range(0, _denseReasons.Count).Where(i => _denseReasons[i] is null).ToArray();

        /// <summary>Whether decoder layer <paramref name="layer"/> has an MoE block.</summary>
        /// <param name="layer">A layer index in [0, <see cref="NumLayers"/>).</param>
        public bool IsMoeLayer(int layer) => DenseReason(layer) is null;

        /// <summary>
        /// Why decoder layer <paramref name="layer"/> is dense, naming the config.json field that makes it so (e.g.
        /// "first_k_dense_replace = 3 makes layers 0–2 dense"), or null when it is an MoE layer.
        /// </summary>
        /// <param name="layer">A layer index in [0, <see cref="NumLayers"/>).</param>
        public string? DenseReason(int layer)
        {
            if (layer < 0 || layer >= _denseReasons.Count)
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, num_hidden_layers = {_denseReasons.Count}); got {layer}.");
            return _denseReasons[layer];
        }

        /// <summary>The checkpoint key prefix of decoder layer <paramref name="layer"/>, e.g. "model.layers.3." (the family's naming).</summary>
        /// <param name="layer">A layer index in [0, <see cref="NumLayers"/>).</param>
        public string LayerPrefix(int layer)
        {
            if (layer < 0 || layer >= _denseReasons.Count)
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, num_hidden_layers = {_denseReasons.Count}); got {layer}.");
            return Family.LayerPrefix(layer);
        }

        /// <summary>Reads config.json; throws <see cref="InvalidDataException"/> naming a missing, bad or contradictory field, or an unknown model_type.</summary>
        /// <param name="path">The config.json file.</param>
        public static HfMoeConfig Read(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            if (!File.Exists(path)) throw new FileNotFoundException($"No config.json at {path}.", path);
            return Parse(File.ReadAllText(path), path);
        }

        /// <summary>Parses the text of a config.json.</summary>
        /// <param name="json">The JSON text.</param>
        /// <param name="source">Where it came from, for messages.</param>
        public static HfMoeConfig Parse(string json, string source = "config.json")
        {
            ArgumentNullException.ThrowIfNull(json);
            try
            {
                using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false });
                var fields = HfConfigFields.Of(document.RootElement, source);
                var type = fields.String("model_type", null);
                var config = HfFamilies.For(type, fields).Read(fields);
                config.Json = json;
                (config.QuantizationMethod, config.Fp8BlockSize) = Quantization(fields);
                return config;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
            }
        }

        /// <summary>
        /// Options of the <see cref="MoeLayer"/> that computes this block: the family's routing rule, experts and shared
        /// experts. Balance losses: the Switch loss with router_aux_loss_coef, or, with a balance bias, the aux-loss-free
        /// bias and no loss. No z-loss (none of these models uses one).
        /// </summary>
        /// <remarks>
        /// Field by field (config.json field, the property here, the option it sets, and each family's rule and default
        /// when absent): the tables in the package README (src/MoeLayers.Interop/README.md), which a test keeps complete.
        /// Options the tables do not name keep their defaults.
        /// </remarks>
        public MoeLayerOptions ToOptions() => new()
        {
            InputDim = HiddenSize,
            HiddenDim = ExpertWidth,
            NumExperts = NumExperts,
            TopK = TopK,
            Router = RouterKind.TopK,
            TopKOrder = TopKOrder,
            RenormalizeWeights = TopK > 1 && NormalizeTopK,
            Activation = Activation,
            SwiGluAlpha = SwiGluAlpha,
            SwiGluLimit = SwiGluLimit,
            ExpertBias = ExpertBias,
            RouterBias = RouterBias,
            WeightExpertInputs = WeightExpertInputs,
            ScoreFunction = ScoreFunction,
            ExpertGroups = ExpertGroups,
            TopKGroups = TopKGroups,
            GroupScore = GroupScore,
            RoutedScalingFactor = RoutedScalingFactor,
            BalanceBias = HasBalanceBias,
            SharedExperts = SharedExperts,
            SharedHiddenDim = SharedExperts > 0 ? SharedWidth : 0,
            SharedExpertGate = SharedExpertGate,
            LoadBalancingLoss = HasBalanceBias ? LoadBalancingLossKind.None : LoadBalancingLossKind.Switch,
            LoadBalancingCoefficient = AuxiliaryLossCoefficient,
            ZLossCoefficient = 0,
        };

        internal HfFamily Family => HfFamilies.Of(Architecture);

        /// <summary>The quantization_config the loader can dequantize; any other method is refused naming it.</summary>
        private static (string Method, (int Rows, int Columns) Fp8Block) Quantization(HfConfigFields root)
        {
            if (root.Nested("quantization_config") is not { } q) return ("", (128, 128));
            var method = q.String("quant_method", null);
            switch (method)
            {
                case "fp8":
                    q.OneOf("fmt", "e4m3", "e4m3");
                    q.OneOf("activation_scheme", "dynamic", "dynamic");
                    var block = q.IntList("weight_block_size");
                    if (!q.Has("weight_block_size")) return ("fp8", (128, 128));
                    if (block.Count != 2 || block.Any(b => b < 1))
                        throw new InvalidDataException($"{root.Source}: '{q.Name("weight_block_size")}' must be two positive integers [rows, columns]; got [{string.Join(", ", block)}].");
                    return ("fp8", (block[0], block[1]));
                case "mxfp4":
                    return ("mxfp4", (128, 128));
                default:
                    throw new InvalidDataException(
                        $"{root.Source}: '{q.Name("quant_method")}' = '{method}' is not supported; MoeLayers dequantizes 'fp8' (block-scaled F8_E4M3 with weight_scale_inv) and 'mxfp4' (gpt-oss) on load.");
            }
        }
    }
}
