using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Hugging Face's ByteLevel decoder: each token's characters map back to bytes through GPT-2's bytes_to_unicode
/// table (openai/gpt-2 src/encoder.py; tokenizers/src/pre_tokenizers/byte_level.rs); a token with a character outside
/// the table (an added token such as a CJK special) contributes its own UTF-8 bytes.
/// </summary>
internal static class ByteLevelDecoding
{
    private static readonly Dictionary<char, byte> CharToByte = BuildTable();

    /// <summary>Appends the bytes of one token to <paramref name="bytes"/>.</summary>
    public static void AppendBytes(string token, List<byte> bytes)
    {
        int start = bytes.Count;
        foreach (char c in token)
        {
            if (!CharToByte.TryGetValue(c, out byte b))
            {
                bytes.RemoveRange(start, bytes.Count - start);
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(token));
                return;
            }
            bytes.Add(b);
        }
    }

    private static Dictionary<char, byte> BuildTable()
    {
        // Printable Latin-1 bytes stand for themselves; the others take code points 256, 257, ... in byte order.
        var table = new Dictionary<char, byte>();
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[printable ? (char)b : (char)(256 + next++)] = (byte)b;
        }
        return table;
    }
}
