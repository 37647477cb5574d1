using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Mistral's tokenizer.json decoder chain: Replace "▁" → " ", ByteFallback (runs of &lt;0xXX&gt; tokens become their
/// UTF-8 text, or one U+FFFD per byte when the run is not valid UTF-8), Fuse, Strip one leading space
/// (tokenizers/src/decoders/{byte_fallback,fuse,strip}.rs).
/// </summary>
internal static class SentencePieceDecoding
{
    /// <summary>The metaspace character SentencePiece writes for a space.</summary>
    public const string Metaspace = "\u2581";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Decodes a token sequence (special tokens already filtered) to text.</summary>
    public static string Decode(IEnumerable<string> tokens)
    {
        var text = new StringBuilder();
        var pendingBytes = new List<byte>();
        foreach (string token in tokens)
        {
            if (ByteToken(token) is byte b)
            {
                pendingBytes.Add(b);
                continue;
            }
            FlushBytes(pendingBytes, text);
            text.Append(token.Replace(Metaspace, " ", StringComparison.Ordinal));
        }
        FlushBytes(pendingBytes, text);
        return text.Length > 0 && text[0] == ' ' ? text.ToString(1, text.Length - 1) : text.ToString();
    }

    private static byte? ByteToken(string token)
    {
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b)
            ? b
            : null;
    }

    private static void FlushBytes(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count == 0)
        {
            return;
        }
        try
        {
            text.Append(StrictUtf8.GetString(bytes.ToArray()));
        }
        catch (DecoderFallbackException)
        {
            text.Append('\uFFFD', bytes.Count);
        }
        bytes.Clear();
    }
}
