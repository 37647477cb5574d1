using System;
using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Byte-level BPE (Qwen3, OLMoE, gpt-oss, GLM-4.5) through Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>: the
/// vocabulary and merges of tokenizer.json, <see cref="BpeOptions.ByteLevel"/>, and the file's split regex as a
/// <see cref="RegexPreTokenizer"/>. Added tokens are cut out before, leftmost-longest (<see cref="AddedTokenSplitter"/>):
/// RegexPreTokenizer's special-token alternation would take the first listed of two overlapping tokens.
/// </summary>
internal sealed class ByteLevelBpeEncoder : ITokenEncoder
{
    private readonly BpeTokenizer tokenizer;
    private readonly AddedTokenSplitter addedTokens;
    private readonly bool normalizeNfc;

    public ByteLevelBpeEncoder(TokenizerJson json)
    {
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
            PreTokenizer = new RegexPreTokenizer(split, specialTokens: null),
        };
        tokenizer = BpeTokenizer.Create(options);
        addedTokens = new AddedTokenSplitter(json.AddedTokens);
        normalizeNfc = json.NormalizeNfc;
    }

    /// <inheritdoc />
    public string Library => "Microsoft.ML.Tokenizers (BpeTokenizer, byte level)";

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text)
    {
        // As Hugging Face: added tokens are cut out first, the normalizer and the BPE see only the text between them.
        var ids = new List<int>();
        foreach ((string piece, int? addedId) in addedTokens.Split(text))
        {
            if (addedId is int id)
            {
                ids.Add(id);
                continue;
            }
            ids.AddRange(tokenizer.EncodeToIds(normalizeNfc ? piece.Normalize(NormalizationForm.FormC) : piece));
        }
        return ids;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
