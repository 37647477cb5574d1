using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace
{
    /// <summary>
    /// One committed fixture of scripts/interop/make_hf_fixtures.py: the block's tensors (prefix removed, as float32),
    /// its config.json, and the reference input, output, router logits and chosen experts. Tensors belong to the
    /// caller's dispose scope.
    /// </summary>
    internal sealed class HfFixture
    {
        private HfFixture(string family, HfConfig config, Dictionary<string, Tensor> block, Dictionary<string, Tensor> io)
        {
            Family = family;
            Config = config;
            Block = block;
            Input = io["input"];
            Output = io["output"];
            RouterLogits = io["router_logits"];
            TopkIndices = io["topk_indices"];
            TopkWeights = io["topk_weights"];
        }

        public string Family { get; }

        public HfConfig Config { get; }

        public Dictionary<string, Tensor> Block { get; }

        public Tensor Input { get; }

        public Tensor Output { get; }

        public Tensor RouterLogits { get; }

        /// <summary>[T, k], ascending per token, stored as F32 (exact integers).</summary>
        public Tensor TopkIndices { get; }

        public Tensor TopkWeights { get; }

        public static HfFixture Load(string family)
        {
            var config = HfConfig.Read(Fixtures.Config(family));
            using var weights = SafetensorsFile.Open(Fixtures.Weights(family));
            var block = weights.ReadAll(Fixtures.Prefix(family)).ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32));
            using var ioFile = SafetensorsFile.Open(Fixtures.Io(family));
            return new HfFixture(family, config, block, ioFile.ReadAll());
        }
    }

    /// <summary>The Hugging Face config.json fields a sparse-MoE block reads, with the published names.</summary>
    internal sealed class HfConfig
    {
        private readonly Dictionary<string, JsonElement> _fields;

        private HfConfig(Dictionary<string, JsonElement> fields) => _fields = fields;

        public static HfConfig Read(string path)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return new HfConfig(document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()));
        }

        public string ModelType => String("model_type");

        public bool Has(string name) => _fields.ContainsKey(name);

        public string String(string name) => Field(name).GetString()!;

        public int Int(string name) => Field(name).GetInt32();

        public double Double(string name) => Field(name).GetDouble();

        public bool Bool(string name, bool fallback) => _fields.TryGetValue(name, out var v) ? v.GetBoolean() : fallback;

        /// <summary>Number of routed experts: num_local_experts (Mixtral), num_experts (Qwen, OLMoE), n_routed_experts (DeepSeek).</summary>
        public int RoutedExperts => ModelType switch
        {
            "mixtral" => Int("num_local_experts"),
            "deepseek_v3" => Int("n_routed_experts"),
            _ => Int("num_experts"),
        };

        /// <summary>Width of one routed expert: intermediate_size (Mixtral, OLMoE), moe_intermediate_size (Qwen, DeepSeek).</summary>
        public int ExpertWidth => ModelType is "mixtral" or "olmoe" ? Int("intermediate_size") : Int("moe_intermediate_size");

        private JsonElement Field(string name)
            => _fields.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"config.json has no '{name}'");
    }
}
