using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The sparse-MoE fields of a Hugging Face model's config.json, and the <see cref="MoeLayerOptions"/> that reproduce
    /// its block. Fields read: model_type, hidden_size, num_local_experts / num_experts / n_routed_experts,
    /// num_experts_per_tok, intermediate_size / moe_intermediate_size, norm_topk_prob, shared_expert_intermediate_size,
    /// n_shared_experts, n_group, topk_group, topk_method, routed_scaling_factor, scoring_func, hidden_act,
    /// router_aux_loss_coef.
    /// </summary>
    public sealed class HfMoeConfig
    {
        private HfMoeConfig(HfArchitecture architecture, int hiddenSize, int numExperts, int topK, int expertWidth, bool normalizeTopK,
            int sharedExperts, int sharedWidth, bool sharedExpertGate, int expertGroups, int topKGroups, string topKMethod, double routedScalingFactor,
            ScoreFunction scoreFunction, double auxiliaryLossCoefficient)
        {
            Architecture = architecture;
            HiddenSize = hiddenSize;
            NumExperts = numExperts;
            TopK = topK;
            ExpertWidth = expertWidth;
            NormalizeTopK = normalizeTopK;
            SharedExperts = sharedExperts;
            SharedWidth = sharedWidth;
            SharedExpertGate = sharedExpertGate;
            ExpertGroups = expertGroups;
            TopKGroups = topKGroups;
            TopKMethod = topKMethod;
            RoutedScalingFactor = routedScalingFactor;
            ScoreFunction = scoreFunction;
            AuxiliaryLossCoefficient = auxiliaryLossCoefficient;
        }

        /// <summary>The model family.</summary>
        public HfArchitecture Architecture { get; }

        /// <summary>hidden_size (d).</summary>
        public int HiddenSize { get; }

        /// <summary>Routed experts E (num_local_experts, num_experts or n_routed_experts).</summary>
        public int NumExperts { get; }

        /// <summary>num_experts_per_tok (k).</summary>
        public int TopK { get; }

        /// <summary>Width of one routed expert.</summary>
        public int ExpertWidth { get; }

        /// <summary>norm_topk_prob (Mixtral always renormalizes).</summary>
        public bool NormalizeTopK { get; }

        /// <summary>Shared experts (DeepSeek n_shared_experts; 1 for Qwen2-MoE with a shared expert; else 0).</summary>
        public int SharedExperts { get; }

        /// <summary>Width of each shared expert.</summary>
        public int SharedWidth { get; }

        /// <summary>Whether the shared expert's output is gated (Qwen2-MoE's shared_expert_gate).</summary>
        public bool SharedExpertGate { get; }

        /// <summary>n_group (1 when absent).</summary>
        public int ExpertGroups { get; }

        /// <summary>topk_group (1 when absent).</summary>
        public int TopKGroups { get; }

        /// <summary>topk_method (DeepSeek: "noaux_tc", "group_limited_greedy" or "greedy"; "" elsewhere).</summary>
        public string TopKMethod { get; }

        /// <summary>routed_scaling_factor (1 when absent).</summary>
        public double RoutedScalingFactor { get; }

        /// <summary>scoring_func.</summary>
        public ScoreFunction ScoreFunction { get; }

        /// <summary>router_aux_loss_coef (0.01 when absent).</summary>
        public double AuxiliaryLossCoefficient { get; }

        /// <summary>Whether the router has an aux-loss-free balance bias (DeepSeek-V3 "noaux_tc"; gate.e_score_correction_bias in the checkpoint).</summary>
        public bool HasBalanceBias => Architecture == HfArchitecture.DeepseekV3 && TopKMethod == "noaux_tc";

        /// <summary>Reads config.json; throws <see cref="InvalidDataException"/> naming a missing or bad field, or an unknown model_type.</summary>
        /// <param name="path">The config.json file.</param>
        public static HfMoeConfig Read(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            try
            {
                return Parse(File.ReadAllText(path), path);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
            }
        }

        /// <summary>Parses the text of a config.json.</summary>
        /// <param name="json">The JSON text.</param>
        /// <param name="source">Where it came from, for messages.</param>
        public static HfMoeConfig Parse(string json, string source = "config.json")
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source} must hold a JSON object.");
            var fields = root.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
            var type = String(fields, "model_type", source);
            var architecture = type switch
            {
                "mixtral" => HfArchitecture.Mixtral,
                "qwen2_moe" => HfArchitecture.Qwen2Moe,
                "qwen3_moe" => HfArchitecture.Qwen3Moe,
                "olmoe" => HfArchitecture.Olmoe,
                "deepseek_v3" => HfArchitecture.DeepseekV3,
                _ => throw new InvalidDataException(
                    $"{source}: model_type '{type}' is not a supported MoE architecture; expected mixtral, qwen2_moe, qwen3_moe, olmoe or deepseek_v3."),
            };
            var act = fields.TryGetValue("hidden_act", out var a) ? a.GetString() : "silu";
            if (act != "silu")
                throw new InvalidDataException($"{source}: hidden_act '{act}' is not supported; MoeLayers' SwiGLU experts use silu.");
            var hidden = Int(fields, "hidden_size", source);
            var (experts, width) = architecture switch
            {
                HfArchitecture.Mixtral => (Int(fields, "num_local_experts", source), Int(fields, "intermediate_size", source)),
                HfArchitecture.Olmoe => (Int(fields, "num_experts", source), Int(fields, "intermediate_size", source)),
                HfArchitecture.DeepseekV3 => (Int(fields, "n_routed_experts", source), Int(fields, "moe_intermediate_size", source)),
                _ => (Int(fields, "num_experts", source), Int(fields, "moe_intermediate_size", source)),
            };
            var topK = Int(fields, "num_experts_per_tok", source);
            var normalize = architecture == HfArchitecture.Mixtral || Bool(fields, "norm_topk_prob", false);
            var (shared, sharedWidth, gate) = architecture switch
            {
                HfArchitecture.Qwen2Moe when Int(fields, "shared_expert_intermediate_size", source, 0) > 0 =>
                    (1, Int(fields, "shared_expert_intermediate_size", source), true),
                HfArchitecture.DeepseekV3 => (Int(fields, "n_shared_experts", source, 0), width, false),
                _ => (0, 0, false),
            };
            var method = architecture == HfArchitecture.DeepseekV3 ? (fields.TryGetValue("topk_method", out var m) ? m.GetString() ?? "" : "noaux_tc") : "";
            var groups = architecture == HfArchitecture.DeepseekV3 && method != "greedy" ? Int(fields, "n_group", source, 1) : 1;
            var kept = groups > 1 ? Int(fields, "topk_group", source) : 1;
            var score = fields.TryGetValue("scoring_func", out var sf)
                ? sf.GetString() switch
                {
                    "sigmoid" => ScoreFunction.Sigmoid,
                    "softmax" => ScoreFunction.Softmax,
                    var other => throw new InvalidDataException($"{source}: scoring_func '{other}' is not supported; expected softmax or sigmoid."),
                }
                : architecture == HfArchitecture.DeepseekV3 ? ScoreFunction.Sigmoid : ScoreFunction.Softmax;
            var scaling = fields.TryGetValue("routed_scaling_factor", out var rs) ? rs.GetDouble() : 1.0;
            var aux = fields.TryGetValue("router_aux_loss_coef", out var ac) ? ac.GetDouble() : 0.01;
            return new HfMoeConfig(architecture, hidden, experts, topK, width, normalize, shared, sharedWidth, gate, groups, kept, method,
                scaling, score, aux);
        }

        /// <summary>
        /// Options of the <see cref="MoeLayer"/> that computes this block: SwiGLU experts without biases, the family's
        /// routing rule, shared experts. Balance losses: the Switch loss with router_aux_loss_coef, or for DeepSeek-V3 the
        /// aux-loss-free bias with no loss. No z-loss (none of these models uses one).
        /// </summary>
        /// <remarks>
        /// Field by field (config.json field, the property here, the option it sets, and each family's rule and default
        /// when absent): the table "config.json → MoeLayerOptions" in the package README (src/MoeLayers.Interop/README.md),
        /// which a test keeps complete. Options the table does not name keep their defaults.
        /// </remarks>
        public MoeLayerOptions ToOptions() => new()
        {
            InputDim = HiddenSize,
            HiddenDim = ExpertWidth,
            NumExperts = NumExperts,
            TopK = TopK,
            Router = RouterKind.TopK,
            RenormalizeWeights = TopK > 1 && NormalizeTopK,
            Activation = ExpertActivation.SwiGlu,
            ExpertBias = false,
            ScoreFunction = ScoreFunction,
            ExpertGroups = ExpertGroups,
            TopKGroups = TopKGroups,
            GroupScore = TopKMethod == "group_limited_greedy" ? GroupScore.Max : GroupScore.SumOfTopTwo,
            RoutedScalingFactor = RoutedScalingFactor,
            BalanceBias = HasBalanceBias,
            SharedExperts = SharedExperts,
            SharedHiddenDim = SharedExperts > 0 ? SharedWidth : 0,
            SharedExpertGate = SharedExpertGate,
            LoadBalancingLoss = HasBalanceBias ? LoadBalancingLossKind.None : LoadBalancingLossKind.Switch,
            LoadBalancingCoefficient = AuxiliaryLossCoefficient,
            ZLossCoefficient = 0,
        };

        private static int Int(Dictionary<string, JsonElement> fields, string name, string source, int? fallback = null)
        {
            if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
                return fallback ?? throw new InvalidDataException($"{source} has no '{name}', which the MoE block needs.");
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
                throw new InvalidDataException($"{source}: '{name}' must be an integer; got {value.GetRawText()}.");
            return number;
        }

        private static string String(Dictionary<string, JsonElement> fields, string name, string source) =>
            fields.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()!
                : throw new InvalidDataException($"{source} has no string '{name}'.");

        private static bool Bool(Dictionary<string, JsonElement> fields, string name, bool fallback) =>
            fields.TryGetValue(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : fallback;
    }
}
