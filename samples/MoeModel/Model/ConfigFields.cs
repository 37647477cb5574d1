using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The fields of one JSON object of a config.json, read with the family's defaults: every error is an
    /// <see cref="InvalidDataException"/> naming the file, the field and what was expected against what was found.
    /// </summary>
    internal sealed class ConfigFields
    {
        private readonly JsonElement _object;

        public ConfigFields(JsonElement element, string source, string path = "")
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: {(path.Length == 0 ? "the root" : $"'{path}'")} must be a JSON object; got {element.ValueKind}.");
            _object = element;
            Source = source;
            Path = path;
        }

        /// <summary>The file, for messages.</summary>
        public string Source { get; }

        /// <summary>This object's own field name in the file ("" for the root), for messages.</summary>
        public string Path { get; }

        /// <summary>The field's name as a message writes it (rope_scaling.factor).</summary>
        public string Name(string field) => Path.Length == 0 ? field : $"{Path}.{field}";

        /// <summary>Whether the field is present and not null.</summary>
        public bool Has(string field) => _object.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null;

        public int Int(string field, int? fallback = null, int min = int.MinValue)
        {
            if (!Has(field)) return fallback ?? throw Missing(field, "an integer");
            var value = _object.GetProperty(field);
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var result))
                throw Wrong(field, "an integer", value);
            if (result < min) throw new InvalidDataException($"{Source}: '{Name(field)}' must be at least {min}; got {result}.");
            return result;
        }

        public int? NullableInt(string field) => Has(field) ? Int(field) : null;

        public double Double(string field, double? fallback = null)
        {
            if (!Has(field)) return fallback ?? throw Missing(field, "a number");
            var value = _object.GetProperty(field);
            if (value.ValueKind != JsonValueKind.Number) throw Wrong(field, "a number", value);
            return value.GetDouble();
        }

        public double? NullableDouble(string field) => Has(field) ? Double(field) : null;

        public bool Bool(string field, bool fallback)
        {
            if (!Has(field)) return fallback;
            var value = _object.GetProperty(field);
            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Wrong(field, "true or false", value),
            };
        }

        public string? String(string field)
        {
            if (!Has(field)) return null;
            var value = _object.GetProperty(field);
            return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Wrong(field, "a string", value);
        }

        /// <summary>An integer or a list of integers (eos_token_id), as a list; empty when absent.</summary>
        public IReadOnlyList<int> IntOrList(string field)
        {
            if (!Has(field)) return System.Array.Empty<int>();
            var value = _object.GetProperty(field);
            if (value.ValueKind == JsonValueKind.Number) return new[] { Int(field) };
            if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out _)))
                throw Wrong(field, "an integer or a list of integers", value);
            return value.EnumerateArray().Select(v => v.GetInt32()).ToArray();
        }

        public IReadOnlyList<string>? StringList(string field)
        {
            if (!Has(field)) return null;
            var value = _object.GetProperty(field);
            if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                throw Wrong(field, "a list of strings", value);
            return value.EnumerateArray().Select(v => v.GetString()!).ToArray();
        }

        /// <summary>A nested object (rope_scaling), or null when absent or null.</summary>
        public ConfigFields? Nested(string field) => Has(field) ? new ConfigFields(_object.GetProperty(field), Source, Name(field)) : null;

        public InvalidDataException Missing(string field, string expected) =>
            new($"{Source}: '{Name(field)}' is missing; expected {expected}.");

        public InvalidDataException Wrong(string field, string expected, JsonElement found) =>
            new($"{Source}: '{Name(field)}' must be {expected}; got {Describe(found)}.");

        public InvalidDataException Unsupported(string field, string found, string supported) =>
            new($"{Source}: '{Name(field)}' = {found} is not supported; {supported}.");

        private static string Describe(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => $"\"{value.GetString()}\"",
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            _ => value.ValueKind.ToString().ToLower(CultureInfo.InvariantCulture),
        };
    }
}
