using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// A sharded checkpoint's index (<c>model.safetensors.index.json</c>): <c>{"metadata": {...}, "weight_map": {key:
    /// shard file name}}</c>, parsed and validated: a JSON object, <c>weight_map</c> an object of strings without
    /// duplicate keys, every shard a plain <c>.safetensors</c> file name inside the index's folder.
    /// </summary>
    internal sealed class SafetensorsIndex
    {
        private SafetensorsIndex(Dictionary<string, string> weightMap, Dictionary<string, string> metadata)
        {
            WeightMap = weightMap;
            Metadata = metadata;
        }

        /// <summary>Tensor key → shard file name.</summary>
        public Dictionary<string, string> WeightMap { get; }

        /// <summary>The <c>metadata</c> object: strings as they are, other values (such as <c>total_size</c>) as their JSON text.</summary>
        public Dictionary<string, string> Metadata { get; }

        public static SafetensorsIndex Read(string indexPath)
        {
            var length = new FileInfo(indexPath).Length;
            if (length > SafetensorsHeader.MaxHeaderLength)
                throw Problem(indexPath, $"the file is {length} bytes, more than the {SafetensorsHeader.MaxHeaderLength} an index may have");
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(File.ReadAllBytes(indexPath), new JsonDocumentOptions { MaxDepth = 8 });
            }
            catch (JsonException e)
            {
                throw Problem(indexPath, $"the file is not valid UTF-8 JSON ({e.Message})", inner: e);
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw Problem(indexPath, $"the index must be a JSON object with a \"weight_map\", found a JSON {root.ValueKind}");

                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                Dictionary<string, string>? weightMap = null;
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in root.EnumerateObject())
                {
                    if (!seen.Add(property.Name))
                        throw Problem(indexPath, $"\"{property.Name}\" appears twice");
                    if (property.Name == "weight_map")
                        weightMap = ReadWeightMap(property.Value, indexPath);
                    else if (property.Name == "metadata")
                        ReadMetadata(property.Value, indexPath, metadata);
                }

                if (weightMap is null)
                    throw Problem(indexPath, "the index has no \"weight_map\" object (tensor key → shard file name)");
                return new SafetensorsIndex(weightMap, metadata);
            }
        }

        internal static SafetensorsFormatException Problem(string indexPath, string what, string? key = null, Exception? inner = null)
        {
            var where = key is null ? $"safetensors index '{indexPath}'" : $"tensor '{key}' in safetensors index '{indexPath}'";
            return new SafetensorsFormatException($"{where}: {what}", indexPath, key, inner);
        }

        private static Dictionary<string, string> ReadWeightMap(JsonElement value, string indexPath)
        {
            if (value.ValueKind != JsonValueKind.Object)
                throw Problem(indexPath, $"\"weight_map\" must be a JSON object of tensor key → shard file name, found a JSON {value.ValueKind}");
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in value.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw Problem(indexPath, $"its \"weight_map\" value must be a shard file name (a JSON string), found a JSON {entry.Value.ValueKind}", entry.Name);
                var shard = entry.Value.GetString()!;
                if (PlainFileName.Problem(shard) is { } problem)
                    throw Problem(indexPath, $"shard name '{shard}' is refused: {problem}", entry.Name);
                if (!shard.EndsWith(".safetensors", StringComparison.Ordinal))
                    throw Problem(indexPath, $"shard name '{shard}' does not end with .safetensors (a safetensors index names safetensors shards only)", entry.Name);
                if (!map.TryAdd(entry.Name, shard))
                    throw Problem(indexPath, "the key appears twice in \"weight_map\"", entry.Name);
            }

            return map;
        }

        private static void ReadMetadata(JsonElement value, string indexPath, Dictionary<string, string> metadata)
        {
            if (value.ValueKind == JsonValueKind.Null) return;
            if (value.ValueKind != JsonValueKind.Object)
                throw Problem(indexPath, $"\"metadata\" must be a JSON object, found a JSON {value.ValueKind}");
            foreach (var entry in value.EnumerateObject())
            {
                var text = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
                if (!metadata.TryAdd(entry.Name, text))
                    throw Problem(indexPath, $"metadata key '{entry.Name}' appears twice");
            }
        }
    }
}
