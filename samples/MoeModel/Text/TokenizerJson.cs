using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// What the tokenizer needs from a folder's tokenizer.json (the format Hugging Face tokenizers serializes), checked
/// against the two shapes the supported families use; anything else is refused with the key that differs.
/// </summary>
/// <remarks>
/// Shapes, as the published files have them:
/// <list type="bullet">
/// <item>byte-level BPE — Qwen3 / gpt-oss / GLM-4.5: pre_tokenizer Sequence[Split(Regex, Isolated), ByteLevel(use_regex
/// false)]; OLMoE: pre_tokenizer ByteLevel(use_regex true, GPT-2's pattern); normalizer null or NFC; decoder ByteLevel.</item>
/// <item>SentencePiece BPE — Mixtral: normalizer Sequence[Prepend ▁, Replace " " → ▁] with no pre-tokenizer (or a
/// Metaspace pre-tokenizer), model.byte_fallback true, decoder Sequence[Replace ▁ → " ", ByteFallback, Fuse, Strip].</item>
/// </list>
/// </remarks>
public sealed class TokenizerJson
{
    /// <summary>The file name inside a model folder.</summary>
    public const string FileName = "tokenizer.json";

    /// <summary>GPT-2's pre-tokenizer pattern, which HF's ByteLevel pre-tokenizer applies when use_regex is true
    /// (tokenizers/src/pre_tokenizers/byte_level.rs).</summary>
    public const string Gpt2SplitPattern =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private TokenizerJson(string path, TokenizerKind kind, Dictionary<string, int> vocabulary, List<string> merges,
        List<AddedToken> addedTokens, string? splitPattern, bool normalizeNfc, int[] prefixIds, int[] suffixIds)
    {
        Path = path;
        Kind = kind;
        Vocabulary = vocabulary;
        Merges = merges;
        AddedTokens = addedTokens;
        SplitPattern = splitPattern;
        NormalizeNfc = normalizeNfc;
        PostProcessorPrefixIds = prefixIds;
        PostProcessorSuffixIds = suffixIds;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Which of the two supported shapes the file has.</summary>
    public TokenizerKind Kind { get; }

    /// <summary>model.vocab: token string → id.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary { get; }

    /// <summary>model.merges as "left right" strings, by rank.</summary>
    public IReadOnlyList<string> Merges { get; }

    /// <summary>added_tokens, in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The byte-level pre-tokenizer's split regex; null for the SentencePiece shape.</summary>
    public string? SplitPattern { get; }

    /// <summary>Whether the normalizer is NFC (Qwen3, OLMoE).</summary>
    public bool NormalizeNfc { get; }

    /// <summary>Ids the post-processor puts before the text when special tokens are added (Mixtral's &lt;s&gt;).</summary>
    public IReadOnlyList<int> PostProcessorPrefixIds { get; }

    /// <summary>Ids the post-processor puts after the text when special tokens are added.</summary>
    public IReadOnlyList<int> PostProcessorSuffixIds { get; }

    /// <summary>Reads and checks <c>tokenizer.json</c> of <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer.json.</exception>
    /// <exception cref="InvalidDataException">The file is not JSON or a required key is missing or mistyped.</exception>
    /// <exception cref="NotSupportedException">The file describes a tokenizer outside the supported shapes; the message
    /// names the key.</exception>
    public static TokenizerJson Read(string folder)
    {
        JsonElement root = ModelFolderJson.Read(folder, FileName,
            "the model folder needs Hugging Face's tokenizer.json (tokenizer.model or vocab.json + merges.txt alone are not read).");
        string path = System.IO.Path.Combine(folder, FileName);
        string file = FileName;

        JsonElement model = ModelFolderJson.Required(root, file, "model");
        string modelType = ModelFolderJson.OptionalString(model, file, "model.type") ?? "BPE";
        if (modelType != "BPE")
        {
            throw new NotSupportedException($"{path}: model.type '{modelType}' is not supported (supported: BPE).");
        }
        if (ModelFolderJson.Optional(model, "dropout") is { } dropout && dropout.GetDouble() != 0)
        {
            throw new NotSupportedException($"{path}: model.dropout {dropout} is not supported (BPE dropout is for training; expected null).");
        }
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            string? value = ModelFolderJson.OptionalString(model, file, "model." + affix);
            if (!string.IsNullOrEmpty(value))
            {
                throw new NotSupportedException($"{path}: model.{affix} '{value}' is not supported (expected null or \"\").");
            }
        }
        bool byteFallback = ModelFolderJson.OptionalBool(model, file, "model.byte_fallback", false);

        Dictionary<string, int> vocabulary = ReadVocabulary(model, file);
        List<string> merges = ReadMerges(model, file);
        List<AddedToken> addedTokens = ReadAddedTokens(root, file);
        (int[] prefixIds, int[] suffixIds) = ReadPostProcessor(root, path, file);

        JsonElement? normalizer = ModelFolderJson.Optional(root, "normalizer");
        JsonElement? preTokenizer = ModelFolderJson.Optional(root, "pre_tokenizer");
        JsonElement decoder = ModelFolderJson.Required(root, file, "decoder");
        if (byteFallback)
        {
            CheckSentencePieceShape(path, file, normalizer, preTokenizer, decoder);
            return new TokenizerJson(path, TokenizerKind.SentencePieceBpe, vocabulary, merges, addedTokens, null, false,
                prefixIds, suffixIds);
        }

        bool nfc = normalizer is { } n && CheckByteLevelNormalizer(path, file, n);
        string pattern = ByteLevelSplitPattern(path, file, preTokenizer);
        string decoderType = ModelFolderJson.RequiredString(decoder, file, "decoder.type");
        if (decoderType != "ByteLevel")
        {
            throw new NotSupportedException(
                $"{path}: decoder.type '{decoderType}' is not supported with a byte-level pre-tokenizer (expected ByteLevel).");
        }
        return new TokenizerJson(path, TokenizerKind.ByteLevelBpe, vocabulary, merges, addedTokens, pattern, nfc,
            prefixIds, suffixIds);
    }

    private static Dictionary<string, int> ReadVocabulary(JsonElement model, string file)
    {
        JsonElement vocab = ModelFolderJson.Required(model, file, "model.vocab");
        if (vocab.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{file}: 'model.vocab' must be an object of token → id, not {vocab.ValueKind}.");
        }
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new InvalidDataException($"{file}: 'model.vocab' entry {ModelFolderJson.Quote(entry.Name)} must map to a non-negative id, not {entry.Value}.");
            }
            vocabulary[entry.Name] = id;
        }
        return vocabulary;
    }

    private static List<string> ReadMerges(JsonElement model, string file)
    {
        JsonElement mergesElement = ModelFolderJson.Required(model, file, "model.merges");
        var merges = new List<string>();
        int index = 0;
        // tokenizers writes "left right" strings (before 0.20) or ["left", "right"] pairs (since).
        foreach (JsonElement merge in mergesElement.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String && merge.GetString()!.Split(' ').Length == 2)
            {
                merges.Add(merge.GetString()!);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String
                && !merge[0].GetString()!.Contains(' ') && !merge[1].GetString()!.Contains(' '))
            {
                merges.Add(merge[0].GetString() + " " + merge[1].GetString());
            }
            else
            {
                throw new InvalidDataException($"{file}: 'model.merges[{index}]' must be \"left right\" or [\"left\", \"right\"] (no spaces inside a part), not {merge}.");
            }
            index++;
        }
        return merges;
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string file)
    {
        var added = new List<AddedToken>();
        if (ModelFolderJson.Optional(root, "added_tokens") is not { } tokens)
        {
            return added;
        }
        int index = 0;
        foreach (JsonElement token in tokens.EnumerateArray())
        {
            string key = $"added_tokens[{index++}]";
            JsonElement idElement = ModelFolderJson.Required(token, file, key + ".id");
            if (!idElement.TryGetInt32(out int id) || id < 0)
            {
                throw new InvalidDataException($"{file}: '{key}.id' must be a non-negative integer, not {idElement}.");
            }
            string content = ModelFolderJson.RequiredString(token, file, key + ".content");
            foreach (string flag in new[] { "lstrip", "rstrip", "single_word" })
            {
                if (ModelFolderJson.OptionalBool(token, file, $"{key}.{flag}", false))
                {
                    throw new NotSupportedException($"{file}: '{key}.{flag}' true is not supported (token {content}).");
                }
            }
            added.Add(new AddedToken(id, content, ModelFolderJson.OptionalBool(token, file, key + ".special", false)));
        }
        return added;
    }

    private static (int[] Prefix, int[] Suffix) ReadPostProcessor(JsonElement root, string path, string file)
    {
        if (ModelFolderJson.Optional(root, "post_processor") is not { } processor)
        {
            return (Array.Empty<int>(), Array.Empty<int>());
        }
        var prefix = new List<int>();
        var suffix = new List<int>();
        AddPostProcessor(processor, "post_processor", path, file, prefix, suffix);
        return (prefix.ToArray(), suffix.ToArray());
    }

    private static void AddPostProcessor(JsonElement processor, string key, string path, string file, List<int> prefix,
        List<int> suffix)
    {
        string type = ModelFolderJson.RequiredString(processor, file, key + ".type");
        switch (type)
        {
            case "ByteLevel":
                // Only offsets change; the ids do not.
                return;
            case "Sequence":
                int index = 0;
                foreach (JsonElement inner in ModelFolderJson.Required(processor, file, key + ".processors").EnumerateArray())
                {
                    AddPostProcessor(inner, $"{key}.processors[{index++}]", path, file, prefix, suffix);
                }
                return;
            case "TemplateProcessing":
                JsonElement specialTokens = ModelFolderJson.Required(processor, file, key + ".special_tokens");
                bool seenSequence = false;
                int position = 0;
                foreach (JsonElement piece in ModelFolderJson.Required(processor, file, key + ".single").EnumerateArray())
                {
                    string pieceKey = $"{key}.single[{position++}]";
                    if (ModelFolderJson.Optional(piece, "Sequence") is { } sequence)
                    {
                        string sequenceId = ModelFolderJson.RequiredString(sequence, file, pieceKey + ".Sequence.id");
                        if (seenSequence || sequenceId != "A")
                        {
                            throw new NotSupportedException($"{path}: '{pieceKey}' is not supported (expected one sequence $A).");
                        }
                        seenSequence = true;
                    }
                    else if (ModelFolderJson.Optional(piece, "SpecialToken") is { } special)
                    {
                        string name = ModelFolderJson.RequiredString(special, file, pieceKey + ".SpecialToken.id");
                        JsonElement entry = ModelFolderJson.Optional(specialTokens, name)
                            ?? throw new InvalidDataException($"{file}: '{key}.special_tokens' has no entry '{name}' that '{pieceKey}' names.");
                        foreach (JsonElement id in ModelFolderJson.Required(entry, file, $"{key}.special_tokens.{name}.ids").EnumerateArray())
                        {
                            (seenSequence ? suffix : prefix).Add(id.GetInt32());
                        }
                    }
                    else
                    {
                        throw new NotSupportedException($"{path}: '{pieceKey}' is neither a Sequence nor a SpecialToken.");
                    }
                }
                if (!seenSequence)
                {
                    throw new NotSupportedException($"{path}: '{key}.single' has no $A sequence.");
                }
                return;
            default:
                throw new NotSupportedException(
                    $"{path}: {key}.type '{type}' is not supported (supported: ByteLevel, TemplateProcessing, Sequence of them).");
        }
    }

    private static bool CheckByteLevelNormalizer(string path, string file, JsonElement normalizer)
    {
        string type = ModelFolderJson.RequiredString(normalizer, file, "normalizer.type");
        return type == "NFC"
            ? true
            : throw new NotSupportedException(
                $"{path}: normalizer.type '{type}' is not supported for byte-level BPE (supported: null, NFC).");
    }

    private static string ByteLevelSplitPattern(string path, string file, JsonElement? preTokenizer)
    {
        if (preTokenizer is not { } pre)
        {
            throw new NotSupportedException(
                $"{path}: pre_tokenizer is null; byte-level BPE needs a ByteLevel or Sequence[Split, ByteLevel] pre-tokenizer.");
        }
        string type = ModelFolderJson.RequiredString(pre, file, "pre_tokenizer.type");
        if (type == "ByteLevel")
        {
            CheckByteLevelPreTokenizer(pre, "pre_tokenizer", path, file, expectRegex: true);
            return Gpt2SplitPattern;
        }
        JsonElement[] steps = type == "Sequence"
            ? ModelFolderJson.Required(pre, file, "pre_tokenizer.pretokenizers").EnumerateArray().ToArray()
            : Array.Empty<JsonElement>();
        if (steps.Length != 2
            || ModelFolderJson.OptionalString(steps[0], file, "pre_tokenizer.pretokenizers[0].type") != "Split"
            || ModelFolderJson.OptionalString(steps[1], file, "pre_tokenizer.pretokenizers[1].type") != "ByteLevel")
        {
            throw new NotSupportedException(
                $"{path}: pre_tokenizer.type '{type}' is not supported (supported: ByteLevel, or Sequence of exactly [Split, ByteLevel]).");
        }
        JsonElement split = steps[0];
        string behavior = ModelFolderJson.RequiredString(split, file, "pre_tokenizer.pretokenizers[0].behavior");
        if (behavior != "Isolated" || ModelFolderJson.OptionalBool(split, file, "pre_tokenizer.pretokenizers[0].invert", false))
        {
            throw new NotSupportedException(
                $"{path}: pre_tokenizer.pretokenizers[0] Split with behavior '{behavior}' is not supported (expected Isolated, invert false).");
        }
        JsonElement pattern = ModelFolderJson.Required(split, file, "pre_tokenizer.pretokenizers[0].pattern");
        string regex = ModelFolderJson.OptionalString(pattern, file, "pre_tokenizer.pretokenizers[0].pattern.Regex")
            ?? throw new NotSupportedException(
                $"{path}: pre_tokenizer.pretokenizers[0].pattern must be {{\"Regex\": ...}} (a String split pattern is not supported).");
        CheckByteLevelPreTokenizer(steps[1], "pre_tokenizer.pretokenizers[1]", path, file, expectRegex: false);
        return regex;
    }

    private static void CheckByteLevelPreTokenizer(JsonElement pre, string key, string path, string file, bool expectRegex)
    {
        if (ModelFolderJson.OptionalBool(pre, file, key + ".add_prefix_space", false))
        {
            throw new NotSupportedException($"{path}: {key}.add_prefix_space true is not supported.");
        }
        if (ModelFolderJson.OptionalBool(pre, file, key + ".use_regex", true) != expectRegex)
        {
            throw new NotSupportedException($"{path}: {key}.use_regex must be {(expectRegex ? "true" : "false")} here.");
        }
    }

    private static void CheckSentencePieceShape(string path, string file, JsonElement? normalizer, JsonElement? preTokenizer,
        JsonElement decoder)
    {
        string? preType = preTokenizer is { } pre ? ModelFolderJson.RequiredString(pre, file, "pre_tokenizer.type") : null;
        string? normType = normalizer is { } norm ? ModelFolderJson.RequiredString(norm, file, "normalizer.type") : null;
        bool prependNormalizer = normType == "Sequence" && preType is null;
        bool metaspacePreTokenizer = preType == "Metaspace" && normType is null;
        if (!prependNormalizer && !metaspacePreTokenizer)
        {
            throw new NotSupportedException(
                $"{path}: with model.byte_fallback true, normalizer.type '{normType ?? "null"}' and pre_tokenizer.type '{preType ?? "null"}' are not supported (supported: a Sequence[Prepend, Replace] normalizer with no pre-tokenizer, or a Metaspace pre-tokenizer).");
        }
        string decoderType = ModelFolderJson.RequiredString(decoder, file, "decoder.type");
        string[] steps = decoderType == "Sequence"
            ? ModelFolderJson.Required(decoder, file, "decoder.decoders").EnumerateArray()
                .Select((d, i) => ModelFolderJson.RequiredString(d, file, $"decoder.decoders[{i}].type")).ToArray()
            : new[] { decoderType };
        if (!steps.SequenceEqual(new[] { "Replace", "ByteFallback", "Fuse", "Strip" }))
        {
            throw new NotSupportedException(
                $"{path}: decoder [{string.Join(", ", steps)}] is not supported with byte fallback (expected Sequence[Replace, ByteFallback, Fuse, Strip]).");
        }
        JsonElement[] decoders = ModelFolderJson.Required(decoder, file, "decoder.decoders").EnumerateArray().ToArray();
        JsonElement replace = decoders[0];
        string? from = ModelFolderJson.OptionalString(ModelFolderJson.Required(replace, file, "decoder.decoders[0].pattern"),
            file, "decoder.decoders[0].pattern.String");
        string? to = ModelFolderJson.OptionalString(replace, file, "decoder.decoders[0].content");
        JsonElement strip = decoders[3];
        string? stripContent = ModelFolderJson.OptionalString(strip, file, "decoder.decoders[3].content");
        int start = ModelFolderJson.Optional(strip, "start")?.GetInt32() ?? 0;
        int stop = ModelFolderJson.Optional(strip, "stop")?.GetInt32() ?? 0;
        if (from != SentencePieceDecoding.Metaspace || to != " " || stripContent != " " || start != 1 || stop != 0)
        {
            throw new NotSupportedException(
                $"{path}: decoder expects Replace \"▁\" → \" \" and Strip \" \" start 1 stop 0 (found Replace {ModelFolderJson.Quote(from)} → {ModelFolderJson.Quote(to)}, Strip {ModelFolderJson.Quote(stripContent)} {start} {stop}).");
        }
    }
}
