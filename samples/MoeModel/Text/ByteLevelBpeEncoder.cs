using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Byte-level BPE (Qwen3, OLMoE, gpt-oss, GLM-4.5) through Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>: the
/// vocabulary and merges of tokenizer.json, <see cref="BpeOptions.ByteLevel"/>, and the file's split regex as a
/// <see cref="RegexPreTokenizer"/> that also cuts out the added tokens.
/// </summary>
internal sealed class ByteLevelBpeEncoder : ITokenEncoder
{
    private readonly BpeTokenizer tokenizer;
    private readonly bool normalizeNfc;

    public ByteLevelBpeEncoder(TokenizerJson json)
    {
        Dictionary<string, int> added = json.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        Regex split;
        try
        {
            split = new Regex(json.SplitPattern!, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new NotSupportedException(
                $"{json.Path}: the pre-tokenizer's split regex does not compile in .NET ({e.Message}).", e);
        }
        var options = new BpeOptions(json.Vocabulary)
        {
            Merges = json.Merges,
            ByteLevel = true,
            SpecialTokens = added,
            PreTokenizer = new RegexPreTokenizer(split, added),
        };
        tokenizer = BpeTokenizer.Create(options);
        normalizeNfc = json.NormalizeNfc;
    }

    /// <inheritdoc />
    public string Library => "Microsoft.ML.Tokenizers (BpeTokenizer, byte level)";

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text)
    {
        // HF normalizes after cutting out added tokens; NFC leaves their ASCII text unchanged, so the order is moot.
        string normalized = normalizeNfc ? text.Normalize(NormalizationForm.FormC) : text;
        return tokenizer.EncodeToIds(normalized);
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
