using System;
using System.IO;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>
    /// The sampling a model folder asks for in generation_config.json, as transformers' generate reads it: do_sample
    /// false or absent is greedy; otherwise temperature (default 1), top_p (default 1) and top_k (default 50, 0 = off).
    /// </summary>
    public static class GenerationConfigDefaults
    {
        /// <summary>The folder's sampling, or greedy when it has no generation_config.json.</summary>
        /// <param name="folder">A model folder.</param>
        /// <exception cref="InvalidDataException">The file is not JSON or a field has the wrong type (the message names both).</exception>
        public static SamplingOptions Read(string folder)
        {
            var path = Path.Combine(folder, "generation_config.json");
            if (!File.Exists(path)) return SamplingOptions.Greedy;
            JsonElement root;
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(path));
                root = document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
            }
            if (!Bool(root, path, "do_sample")) return SamplingOptions.Greedy;
            var options = new SamplingOptions
            {
                Temperature = Number(root, path, "temperature") ?? 1.0,
                TopP = Number(root, path, "top_p") ?? 1.0,
                TopK = (int)(Number(root, path, "top_k") ?? 50),
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new InvalidDataException($"{path}: {e.ParamName} is out of range: {e.Message}", e);
            }
            return options;
        }

        private static bool Bool(JsonElement root, string path, string field) =>
            !root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null ? false
            : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
            : throw new InvalidDataException($"{path}: '{field}' must be true or false; got {value.GetRawText()}.");

        private static double? Number(JsonElement root, string path, string field) =>
            !root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null ? null
            : value.ValueKind == JsonValueKind.Number ? value.GetDouble()
            : throw new InvalidDataException($"{path}: '{field}' must be a number; got {value.GetRawText()}.");
    }
}
