using System;
using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Turns generated ids into text as they come, emitting only whole characters: a character whose UTF-8 bytes are
/// split over several tokens is held back until its last byte arrives, so no U+FFFD is printed mid-stream.
/// </summary>
/// <remarks>
/// Each step decodes the ids since the last emission twice — without and with the new id — and emits the difference
/// when the longer text does not end in U+FFFD (the approach of Hugging Face text-generation-inference's incremental
/// decoding). Decoding from the last emission rather than from each new id keeps decoder context such as Mistral's
/// leading-space strip and the byte runs of byte-level BPE.
/// </remarks>
public sealed class StreamingDetokenizer
{
    private const char ReplacementCharacter = '\uFFFD';
    private readonly Func<IReadOnlyList<int>, string> decode;
    private readonly List<int> pending = new();
    private int emittedIdCount;

    internal StreamingDetokenizer(Func<IReadOnlyList<int>, string> decode)
    {
        this.decode = decode;
    }

    /// <summary>Adds one generated id; returns the text that became complete (possibly empty).</summary>
    public string Append(int id)
    {
        string before = decode(pending.GetRange(0, emittedIdCount));
        pending.Add(id);
        string after = decode(pending);
        if (after.Length > before.Length && after[^1] != ReplacementCharacter && after.StartsWith(before, StringComparison.Ordinal))
        {
            // Keep the ids of the text just emitted as context for the next step, from their first id on.
            pending.RemoveRange(0, emittedIdCount);
            emittedIdCount = pending.Count;
            return after[before.Length..];
        }
        return string.Empty;
    }

    /// <summary>Emits whatever is still held back (an incomplete character shows as U+FFFD) and starts over.</summary>
    public string Flush()
    {
        string before = decode(pending.GetRange(0, emittedIdCount));
        string after = decode(pending);
        pending.Clear();
        emittedIdCount = 0;
        return after.StartsWith(before, StringComparison.Ordinal) ? after[before.Length..] : after;
    }
}
