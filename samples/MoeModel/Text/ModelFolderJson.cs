using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Reads the JSON files of a Hugging Face model folder (tokenizer.json, tokenizer_config.json, config.json,
/// generation_config.json) with errors that name the file and the key.
/// </summary>
internal static class ModelFolderJson
{
    /// <summary>Parses <paramref name="fileName"/> in <paramref name="folder"/>; a missing file is an error naming it.</summary>
    public static JsonElement Read(string folder, string fileName, string whyNeeded)
    {
        string path = Path.Combine(folder, fileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found: {whyNeeded}", path);
        }
        return Parse(path);
    }

    /// <summary>Parses <paramref name="fileName"/> when the folder has it, otherwise returns null.</summary>
    public static JsonElement? ReadOptional(string folder, string fileName)
    {
        string path = Path.Combine(folder, fileName);
        return File.Exists(path) ? Parse(path) : null;
    }

    private static JsonElement Parse(string path)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The property <paramref name="key"/> of an object, or null when absent or JSON null.</summary>
    public static JsonElement? Optional(JsonElement element, string key)
    {
        if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(key, out JsonElement value)
            && value.ValueKind != JsonValueKind.Null)
        {
            return value;
        }
        return null;
    }

    /// <summary>The property <paramref name="key"/>, which must be present and not null.</summary>
    public static JsonElement Required(JsonElement element, string file, string key)
    {
        return Optional(element, key.Substring(key.LastIndexOf('.') + 1))
            ?? throw new InvalidDataException($"{file}: '{key}' is missing or null.");
    }

    /// <summary>A string property, or null when absent or JSON null; any other kind is an error naming the key.</summary>
    public static string? OptionalString(JsonElement element, string file, string key)
    {
        JsonElement? value = Optional(element, key.Substring(key.LastIndexOf('.') + 1));
        if (value is null)
        {
            return null;
        }
        if (value.Value.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"{file}: '{key}' must be a string, not {value.Value.ValueKind}.");
        }
        return value.Value.GetString();
    }

    /// <summary>A string property that must be present.</summary>
    public static string RequiredString(JsonElement element, string file, string key)
    {
        return OptionalString(element, file, key) ?? throw new InvalidDataException($"{file}: '{key}' is missing or null.");
    }

    /// <summary>A boolean property, <paramref name="fallback"/> when absent or null.</summary>
    public static bool OptionalBool(JsonElement element, string file, string key, bool fallback)
    {
        JsonElement? value = Optional(element, key.Substring(key.LastIndexOf('.') + 1));
        if (value is null)
        {
            return fallback;
        }
        if (value.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new InvalidDataException($"{file}: '{key}' must be true or false, not {value.Value.ValueKind}.");
        }
        return value.Value.GetBoolean();
    }

    /// <summary>A string as a JSON literal for error messages, with &lt; &gt; &amp; and non-ASCII left readable.</summary>
    public static string Quote(string? value) =>
        JsonSerializer.Serialize(value, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>A token id (non-negative integer) or a list of them, as config.json's eos_token_id may be either.</summary>
    public static IReadOnlyList<int> TokenIds(JsonElement element, string file, string key)
    {
        JsonElement? value = Optional(element, key);
        if (value is null)
        {
            return Array.Empty<int>();
        }
        var ids = new List<int>();
        if (value.Value.ValueKind == JsonValueKind.Array)
        {
            int index = 0;
            foreach (JsonElement item in value.Value.EnumerateArray())
            {
                ids.Add(TokenId(item, file, $"{key}[{index++}]"));
            }
        }
        else
        {
            ids.Add(TokenId(value.Value, file, key));
        }
        return ids;
    }

    private static int TokenId(JsonElement value, string file, string key)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int id) || id < 0)
        {
            throw new InvalidDataException($"{file}: '{key}' must be a non-negative integer token id, not {value}.");
        }
        return id;
    }

    /// <summary>
    /// A special-token string of tokenizer_config.json / special_tokens_map.json, which is either a string or an
    /// AddedToken object {"content": ...}; null when absent.
    /// </summary>
    public static string? TokenString(JsonElement element, string file, string key)
    {
        JsonElement? value = Optional(element, key);
        return value?.ValueKind switch
        {
            null => null,
            JsonValueKind.String => value.Value.GetString(),
            JsonValueKind.Object => RequiredString(value.Value, file, key + ".content"),
            _ => throw new InvalidDataException(
                $"{file}: '{key}' must be a token string or an object with 'content', not {value.Value.ValueKind}."),
        };
    }
}
