using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Models
{
    /// <summary>
    /// One model folder of scripts/interop/make_hf_models.py (tests/fixtures/hf-models/NAME): config.json, the weights
    /// (sharded or not) and reference.safetensors with each MoE layer's input, output, router logits and chosen experts
    /// computed by the transcribed published forward. The folder format is documented in scripts/interop/README.md.
    /// </summary>
    internal sealed class HfModelFixture
    {
        private HfModelFixture(string name, IReadOnlyDictionary<string, string> metadata)
        {
            Name = name;
            Metadata = metadata;
        }

        public string Name { get; }

        public string Folder => FolderOf(Name);

        public IReadOnlyDictionary<string, string> Metadata { get; }

        public IReadOnlyList<int> MoeLayers => Layers("moe_layers");

        public IReadOnlyList<int> DenseLayers => Layers("dense_layers");

        public HfExpertLayout Layout => Metadata["layout"] switch
        {
            "per_expert" => HfExpertLayout.PerExpert,
            "fused" => HfExpertLayout.Fused,
            "dbrx_flat" => HfExpertLayout.Flattened,
            var other => throw new InvalidDataException($"{Name}: unknown layout '{other}' in reference.safetensors"),
        };

        /// <summary>Every fixture folder.</summary>
        public static IEnumerable<string> Names() =>
            Directory.EnumerateDirectories(Path.Combine(AppContext.BaseDirectory, "fixtures", "hf-models")).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal)!;

        public static HfModelFixture Load(string name)
        {
            using var reference = SafetensorsFile.Open(Path.Combine(FolderOf(name), "reference.safetensors"));
            return new HfModelFixture(name, reference.Metadata);
        }

        /// <summary>The reference tensors of MoE layer <paramref name="layer"/> (in the caller's dispose scope).</summary>
        public (Tensor Input, Tensor Output, Tensor Logits, Tensor Indices, Tensor Weights) Reference(int layer)
        {
            using var reference = SafetensorsFile.Open(Path.Combine(Folder, "reference.safetensors"));
            Tensor Get(string what) => reference.Read($"layers.{layer}.{what}");
            return (Get("input"), Get("output"), Get("router_logits"), Get("topk_indices").to(ScalarType.Int64), Get("topk_weights"));
        }

        /// <summary>Whether reference.safetensors holds layers.<paramref name="layer"/>.<paramref name="what"/> (e.g. output_bf16).</summary>
        public bool HasReference(int layer, string what)
        {
            using var reference = SafetensorsFile.Open(Path.Combine(Folder, "reference.safetensors"));
            return reference.Keys.Contains($"layers.{layer}.{what}");
        }

        /// <summary>layers.<paramref name="layer"/>.<paramref name="what"/> of reference.safetensors, in its stored dtype.</summary>
        public Tensor ReferenceTensor(int layer, string what)
        {
            using var reference = SafetensorsFile.Open(Path.Combine(Folder, "reference.safetensors"));
            return reference.Read($"layers.{layer}.{what}");
        }

        private static string FolderOf(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "hf-models", name);

        private IReadOnlyList<int> Layers(string key) =>
            Metadata[key].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
    }
}
