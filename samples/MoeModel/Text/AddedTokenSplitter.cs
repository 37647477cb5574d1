using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Cuts tokenizer.json's added tokens out of a text before BPE, as Hugging Face's AddedVocabulary does: scanning left to
/// right, at each position the longest added token that starts there wins (leftmost-longest), so overlapping added
/// tokens such as GPT-NeoX's whitespace runs ("  ", "   ", …) split the way tokenizers splits them.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, (string Content, int Id)[]> byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> addedTokens)
    {
        byFirstChar = addedTokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).Select(t => (t.Content, t.Id)).ToArray());
    }

    /// <summary>
    /// The pieces of <paramref name="text"/> in order: plain text (Id null) and added tokens (their id).
    /// </summary>
    public IEnumerable<(string Text, int? Id)> Split(string text)
    {
        int plainStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            (string Content, int Id)? match = null;
            if (byFirstChar.TryGetValue(text[i], out var candidates))
            {
                foreach (var candidate in candidates)
                {
                    if (string.CompareOrdinal(text, i, candidate.Content, 0, candidate.Content.Length) == 0)
                    {
                        match = candidate;
                        break;
                    }
                }
            }
            if (match is not { } token)
            {
                i++;
                continue;
            }
            if (i > plainStart)
            {
                yield return (text[plainStart..i], null);
            }
            yield return (token.Content, token.Id);
            i += token.Content.Length;
            plainStart = i;
        }
        if (plainStart < text.Length)
        {
            yield return (text[plainStart..], null);
        }
    }
}
