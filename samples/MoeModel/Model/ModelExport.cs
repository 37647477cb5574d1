using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoeLayers.Interop;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// Writes a <see cref="MoeCausalLM"/> as a Hugging Face folder through <see cref="HfCheckpoint.Save(string, HfMoeConfig, TorchSharp.torch.nn.Module, string, HfSaveOptions?)"/>:
    /// the MoE blocks in the family's published layout, every other parameter under its key (in the model's state-dict
    /// order), config.json, and the source folder's generation and tokenizer files, in one atomic write.
    /// </summary>
    internal static class ModelExport
    {
        /// <summary>The small files of a model folder copied as they are.</summary>
        public static readonly string[] CopiedFiles =
            { "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja" };

        public static void Save(MoeCausalLM model, string folder, string? sourceFolder, ScalarType dtype, long maxShardBytes)
        {
            ArgumentNullException.ThrowIfNull(folder);
            if (!SafetensorsDTypes.TryFromScalarType(dtype, out var stored) || !stored.IsWritable())
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "the weights are written as Float32, BFloat16 or Float16.");
            if (sourceFolder is not null && !Directory.Exists(sourceFolder))
                throw new DirectoryNotFoundException($"sourceFolder {sourceFolder} does not exist.");
            if (sourceFolder is not null && Path.GetFullPath(sourceFolder).TrimEnd(Path.DirectorySeparatorChar) == Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar))
                throw new ArgumentException($"folder {folder} is the source folder; write the export elsewhere (the write replaces the folder as a whole).", nameof(folder));
            var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var name in sourceFolder is null ? Array.Empty<string>() : CopiedFiles)
            {
                var path = Path.Combine(sourceFolder!, name);
                if (File.Exists(path)) files[name] = File.ReadAllBytes(path);
            }
            var others = model.NonMoeParameters()
                .Select(p => new SafetensorsTensorSource(p.Key, stored, p.Parameter.shape, () => p.Parameter.detach().to(dtype, copy: true)))
                .ToList();
            HfCheckpoint.Save(folder, ConfigStating(model.Config, dtype), model, MoeCausalLM.LayersPrefix,
                new HfSaveOptions { DType = dtype, MaxShardBytes = maxShardBytes, OtherTensors = others, ExtraFiles = files });
        }

        /// <summary>
        /// The config to write: the one read, as read, when its torch_dtype (dtype in transformers v5) already names the
        /// storage dtype; else the same fields with that one set to it (transformers loads a folder in the dtype it names).
        /// </summary>
        private static HfMoeConfig ConfigStating(MoeModelConfig config, ScalarType dtype)
        {
            var name = dtype switch
            {
                ScalarType.Float32 => "float32",
                ScalarType.BFloat16 => "bfloat16",
                _ => "float16",
            };
            var root = JsonNode.Parse(config.Json)!.AsObject();
            var field = root.ContainsKey("dtype") && !root.ContainsKey("torch_dtype") ? "dtype" : "torch_dtype";
            if (root[field] is JsonValue value && value.TryGetValue<string>(out var stated) && stated == name) return config.Moe;
            root[field] = name;
            return HfMoeConfig.Parse(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", config.Source);
        }
    }
}
