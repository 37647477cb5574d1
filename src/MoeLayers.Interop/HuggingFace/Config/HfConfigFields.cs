using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The fields of one config.json object (or of a nested one such as Qwen3.5's text_config), read with the family's
    /// transformers defaults for absent fields. Every failure throws <see cref="InvalidDataException"/> naming the file
    /// and the field as it is spelled in config.json (with its parent for nested objects: "text_config.num_experts").
    /// </summary>
    internal sealed class HfConfigFields
    {
        private readonly Dictionary<string, JsonElement> _fields;
        private readonly string _path;

        private HfConfigFields(Dictionary<string, JsonElement> fields, string source, string path)
        {
            _fields = fields;
            Source = source;
            _path = path;
        }

        /// <summary>Where the fields came from (a file path), for messages.</summary>
        public string Source { get; }

        /// <summary>The fields of a parsed config.json root object.</summary>
        public static HfConfigFields Of(JsonElement root, string source)
        {
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source} must hold a JSON object.");
            return new HfConfigFields(root.EnumerateObject().GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Last().Value.Clone()), source, "");
        }

        /// <summary>The field's name as messages print it ("text_config.num_experts" inside a nested object).</summary>
        public string Name(string field) => _path + field;

        /// <summary>Whether the field is present and not null.</summary>
        public bool Has(string field) => _fields.TryGetValue(field, out var value) && value.ValueKind != JsonValueKind.Null;

        /// <summary>Whether the field is present with the value null (for fields where transformers gives null a meaning of its own).</summary>
        public bool IsNull(string field) => _fields.TryGetValue(field, out var value) && value.ValueKind == JsonValueKind.Null;

        /// <summary>A nested object (e.g. text_config), or null when absent.</summary>
        public HfConfigFields? Nested(string field)
        {
            if (!Has(field)) return null;
            var value = _fields[field];
            if (value.ValueKind != JsonValueKind.Object) throw Bad(field, "must be a JSON object", value);
            return new HfConfigFields(value.EnumerateObject().GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Last().Value.Clone()), Source, Name(field) + ".");
        }

        /// <summary>A nested object, or an empty one when absent (so that every field takes its default and messages still name "parent.field").</summary>
        public HfConfigFields NestedOrEmpty(string field) => Nested(field) ?? new HfConfigFields(new Dictionary<string, JsonElement>(), Source, Name(field) + ".");

        /// <summary>An integer field in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="fallback"/> when absent (null: required).</summary>
        public int Int(string field, int? fallback, int min = int.MinValue, int max = int.MaxValue, string? range = null)
        {
            int number;
            if (!Has(field)) number = fallback ?? throw new InvalidDataException($"{Source} has no '{Name(field)}', which the MoE block needs.");
            else if (_fields[field].ValueKind != JsonValueKind.Number || !_fields[field].TryGetInt32(out number)) throw Bad(field, "must be an integer", _fields[field]);
            if (number < min || number > max)
                throw new InvalidDataException($"{Source}: '{Name(field)}' must be {range ?? RangeText(min, max)}; got {number}.");
            return number;
        }

        /// <summary>A finite number field satisfying <paramref name="valid"/> (described by <paramref name="range"/>); <paramref name="fallback"/> when absent.</summary>
        public double Double(string field, double fallback, Func<double, bool>? valid = null, string range = "a finite number")
        {
            var number = fallback;
            if (Has(field))
            {
                if (_fields[field].ValueKind != JsonValueKind.Number) throw Bad(field, "must be a number", _fields[field]);
                number = _fields[field].GetDouble();
            }
            if (!double.IsFinite(number) || (valid is not null && !valid(number)))
                throw new InvalidDataException($"{Source}: '{Name(field)}' must be {range}; got {number.ToString(CultureInfo.InvariantCulture)}.");
            return number;
        }

        /// <summary>A boolean field; <paramref name="fallback"/> when absent.</summary>
        public bool Bool(string field, bool fallback)
        {
            if (!Has(field)) return fallback;
            return _fields[field].ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Bad(field, "must be true or false", _fields[field]),
            };
        }

        /// <summary>A string field; <paramref name="fallback"/> when absent (null: required).</summary>
        public string String(string field, string? fallback)
        {
            if (!Has(field)) return fallback ?? throw new InvalidDataException($"{Source} has no string '{Name(field)}'.");
            return _fields[field].ValueKind == JsonValueKind.String ? _fields[field].GetString()! : throw Bad(field, "must be a string", _fields[field]);
        }

        /// <summary>A string field that must be one of <paramref name="allowed"/>.</summary>
        public string OneOf(string field, string fallback, params string[] allowed)
        {
            var value = String(field, fallback);
            if (!allowed.Contains(value))
                throw new InvalidDataException($"{Source}: '{Name(field)}' must be {string.Join(" or ", allowed.Select(a => $"'{a}'"))}; got '{value}'.");
            return value;
        }

        /// <summary>A list of integers (e.g. mlp_only_layers); empty when absent.</summary>
        public IReadOnlyList<int> IntList(string field)
        {
            if (!Has(field)) return Array.Empty<int>();
            var value = _fields[field];
            if (value.ValueKind != JsonValueKind.Array) throw Bad(field, "must be a list of integers", value);
            return value.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var n)
                ? n : throw Bad(field, "must be a list of integers", value)).ToArray();
        }

        /// <summary>A list of strings (e.g. mlp_layer_types); empty when absent.</summary>
        public IReadOnlyList<string> StringList(string field)
        {
            if (!Has(field)) return Array.Empty<string>();
            var value = _fields[field];
            if (value.ValueKind != JsonValueKind.Array) throw Bad(field, "must be a list of strings", value);
            return value.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Bad(field, "must be a list of strings", value)).ToArray();
        }

        /// <summary>A field that is either an integer or a list of integers (e.g. Llama 4's moe_layers / interleave step).</summary>
        public JsonValueKind Kind(string field) => Has(field) ? _fields[field].ValueKind : JsonValueKind.Undefined;

        /// <summary>An exception naming the field, what it must be, and the raw value found.</summary>
        public InvalidDataException Bad(string field, string must, JsonElement value) =>
            new($"{Source}: '{Name(field)}' {must}; got {value.GetRawText()}.");

        /// <summary>An exception for a contradiction between fields, in the caller's words.</summary>
        public InvalidDataException Contradiction(string message) => new($"{Source}: {message}");

        private static string RangeText(int min, int max) => (min, max) switch
        {
            (int.MinValue, int.MaxValue) => "an integer",
            (_, int.MaxValue) => $"at least {min}",
            (int.MinValue, _) => $"at most {max}",
            _ => $"in [{min}, {max}]",
        };
    }
}
