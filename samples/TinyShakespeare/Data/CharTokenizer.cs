using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace MoeLayers.Samples.TinyShakespeare.Data
{
    /// <summary>
    /// Character-level vocabulary: every distinct UTF-16 character of a text, sorted by code, gets the id of its rank.
    /// The vocabulary is stored in checkpoints as its <see cref="Alphabet"/> string so generation decodes the same way.
    /// </summary>
    public sealed class CharTokenizer
    {
        private readonly Dictionary<char, int> _ids;

        /// <summary>Creates a tokenizer over the given characters, which must be distinct.</summary>
        /// <param name="alphabet">The characters in id order (id i is <c>alphabet[i]</c>), at least one, no duplicates.</param>
        public CharTokenizer(string alphabet)
        {
            ArgumentNullException.ThrowIfNull(alphabet);
            if (alphabet.Length == 0)
                throw new ArgumentException("alphabet must hold at least one character.", nameof(alphabet));
            _ids = new Dictionary<char, int>(alphabet.Length);
            for (var i = 0; i < alphabet.Length; i++)
            {
                if (!_ids.TryAdd(alphabet[i], i))
                    throw new ArgumentException($"alphabet must not repeat characters; {Describe(alphabet[i])} appears twice.", nameof(alphabet));
            }
            Alphabet = alphabet;
        }

        /// <summary>The characters in id order.</summary>
        public string Alphabet { get; }

        /// <summary>Number of distinct characters (the model's vocabulary size).</summary>
        public int VocabularySize => Alphabet.Length;

        /// <summary>Builds the vocabulary of <paramref name="text"/>: its distinct characters in ordinal order.</summary>
        /// <param name="text">A non-empty text.</param>
        public static CharTokenizer FromText(string text)
        {
            ArgumentNullException.ThrowIfNull(text);
            if (text.Length == 0) throw new ArgumentException("text must not be empty.", nameof(text));
            return new CharTokenizer(new string(text.Distinct().OrderBy(c => c).ToArray()));
        }

        /// <summary>Whether the vocabulary holds <paramref name="c"/>.</summary>
        public bool Contains(char c) => _ids.ContainsKey(c);

        /// <summary>The ids of the characters of <paramref name="text"/>.</summary>
        /// <exception cref="ArgumentException">A character is outside the vocabulary; the message names it and its position.</exception>
        public long[] Encode(string text)
        {
            ArgumentNullException.ThrowIfNull(text);
            var ids = new long[text.Length];
            for (var i = 0; i < text.Length; i++)
            {
                if (!_ids.TryGetValue(text[i], out var id))
                    throw new ArgumentException(
                        $"text has {Describe(text[i])} at position {i}, which is not in the vocabulary of {VocabularySize} characters.",
                        nameof(text));
                ids[i] = id;
            }
            return ids;
        }

        /// <summary>The text of a sequence of ids.</summary>
        /// <exception cref="ArgumentException">An id is outside [0, <see cref="VocabularySize"/>).</exception>
        public string Decode(IEnumerable<long> ids)
        {
            ArgumentNullException.ThrowIfNull(ids);
            var builder = new StringBuilder();
            foreach (var id in ids)
            {
                if (id < 0 || id >= VocabularySize)
                    throw new ArgumentException($"ids must be in [0, {VocabularySize}); got {id}.", nameof(ids));
                builder.Append(Alphabet[(int)id]);
            }
            return builder.ToString();
        }

        private static string Describe(char c) =>
            char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}' (U+{(int)c:X4})";
    }
}
