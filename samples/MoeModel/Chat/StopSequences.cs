using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Samples.MoeModel.Chat
{
    /// <summary>
    /// Cuts a streamed answer at the first stop sequence (ChatOptions.StopSequences), which is not part of the answer. Text
    /// that could still turn into a stop sequence is held back until it cannot, so nothing is streamed that a later
    /// piece would have cut.
    /// </summary>
    internal sealed class StopSequences
    {
        private readonly string[] _sequences;
        private string _held = "";

        public StopSequences(IReadOnlyList<string> sequences) => _sequences = sequences.Where(s => s.Length > 0).ToArray();

        /// <summary>The text that can be streamed now, and whether a stop sequence ended the answer.</summary>
        public (string Text, bool Stopped) Accept(string piece)
        {
            var text = _held + piece;
            if (_sequences.Length == 0)
            {
                _held = "";
                return (text, false);
            }
            var cut = _sequences.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
            if (cut >= 0)
            {
                _held = "";
                return (text[..cut], true);
            }
            var keep = _sequences.Max(s => LongestPrefixAtEnd(text, s));
            _held = text[^keep..];
            return (text[..^keep], false);
        }

        /// <summary>The text held back, when the answer ends for another reason.</summary>
        public string Release()
        {
            var held = _held;
            _held = "";
            return held;
        }

        /// <summary>The length of the longest proper prefix of <paramref name="sequence"/> that ends <paramref name="text"/>.</summary>
        private static int LongestPrefixAtEnd(string text, string sequence)
        {
            for (var length = Math.Min(text.Length, sequence.Length - 1); length > 0; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(sequence.AsSpan(0, length))) return length;
            }
            return 0;
        }
    }
}
