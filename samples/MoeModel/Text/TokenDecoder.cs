using System;
using System.Collections.Generic;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Turns ids back into text the way the folder's tokenizer.json decoder does (ByteLevel, or Mistral's
/// Replace/ByteFallback/Fuse/Strip chain). Written here rather than taken from the encoding libraries so that both
/// tokenizer kinds decode alike, with or without special tokens, and a partial UTF-8 character shows as U+FFFD (which
/// the streaming detokenizer waits out).
/// </summary>
internal sealed class TokenDecoder
{
    private readonly TokenizerKind kind;
    private readonly string?[] tokens;
    private readonly bool[] special;

    public TokenDecoder(TokenizerJson tokenizer)
    {
        kind = tokenizer.Kind;
        int size = 0;
        foreach (int id in tokenizer.Vocabulary.Values)
        {
            size = Math.Max(size, id + 1);
        }
        foreach (AddedToken added in tokenizer.AddedTokens)
        {
            size = Math.Max(size, added.Id + 1);
        }
        tokens = new string?[size];
        special = new bool[size];
        foreach ((string token, int id) in tokenizer.Vocabulary)
        {
            tokens[id] = token;
        }
        foreach (AddedToken added in tokenizer.AddedTokens)
        {
            tokens[added.Id] = added.Content;
            special[added.Id] = added.IsSpecial;
        }
    }

    /// <summary>One more than the largest id of the vocabulary and the added tokens.</summary>
    public int VocabularySize => tokens.Length;

    /// <summary>The token string of <paramref name="id"/>, or null for an id no token has.</summary>
    public string? TokenOf(int id) => id >= 0 && id < tokens.Length ? tokens[id] : null;

    /// <summary>Whether <paramref name="id"/> is an added token marked special.</summary>
    public bool IsSpecial(int id) => id >= 0 && id < special.Length && special[id];

    /// <summary>
    /// Decodes <paramref name="ids"/>; special tokens are left out when <paramref name="skipSpecialTokens"/>, and ids no
    /// token has (a model's padded vocabulary rows) always, as Hugging Face tokenizers' decode does.
    /// </summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens)
    {
        var kept = new List<string>(ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            int id = ids[i];
            if (id < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"ids[{i}] = {id} is negative; token ids are ≥ 0.");
            }
            // An id no token has (a model's padded vocabulary rows) decodes to nothing, as in Hugging Face tokenizers.
            if (TokenOf(id) is not { } token)
            {
                continue;
            }
            if (!(skipSpecialTokens && special[id]))
            {
                kept.Add(token);
            }
        }
        if (kind == TokenizerKind.SentencePieceBpe)
        {
            return SentencePieceDecoding.Decode(kept);
        }
        var bytes = new List<byte>();
        foreach (string token in kept)
        {
            ByteLevelDecoding.AppendBytes(token, bytes);
        }
        // Invalid or incomplete UTF-8 becomes U+FFFD, as Rust's String::from_utf8_lossy does.
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
