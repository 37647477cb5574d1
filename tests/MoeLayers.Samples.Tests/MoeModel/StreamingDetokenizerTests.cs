using System.Collections.Generic;
using System.Linq;
using System.Text;
using FluentAssertions;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The streaming detokenizer against the whole-sequence decode: same text, and no U+FFFD ever emitted while a
    /// multi-byte character is split over tokens (the tiny vocabularies spell most non-ASCII characters byte by byte).
    /// </summary>
    public sealed class StreamingDetokenizerTests
    {
        private const string Multilingual = "naïve café — 中文字符, Ελληνικά, emoji 🙂👍🏽 and ✓ done.\n  Next line:   spaced.";

        public static TheoryData<string> Families()
        {
            var data = new TheoryData<string>();
            foreach (var family in TokenizerFixtures.Families) data.Add(family);
            return data;
        }

        [Theory]
        [MemberData(nameof(Families))]
        public void Streaming_emits_the_decoded_text_in_whole_characters_only(string family)
        {
            using var tokenizer = TokenizerFixtures.Open(family);
            var ids = tokenizer.Encode(Multilingual, addSpecialTokens: false);
            var stream = tokenizer.NewStreamingDetokenizer();

            var chunks = ids.Select(stream.Append).ToList();
            chunks.Add(stream.Flush());

            string.Concat(chunks).Should().Be(tokenizer.Decode(ids, skipSpecialTokens: true));
            string.Concat(chunks).Should().Be(Multilingual);
            chunks.Should().NotContain(c => c.Contains('\uFFFD'));
            // The test exercises holding back: some ids end inside a character and emit nothing.
            chunks.Take(ids.Count).Should().Contain(string.Empty);
            foreach (var chunk in chunks)
            {
                Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(chunk)).Should().Be(chunk, "every chunk is whole characters (no lone surrogate)");
            }
        }

        [Theory]
        [MemberData(nameof(Families))]
        public void Streaming_text_with_special_tokens_skips_them_by_default(string family)
        {
            using var tokenizer = TokenizerFixtures.Open(family);
            var eos = tokenizer.EosTokenIds[0];
            var ids = tokenizer.Encode("Hi 中", addSpecialTokens: false).Append(eos).ToList();

            var skipping = tokenizer.NewStreamingDetokenizer();
            string.Concat(ids.Select(skipping.Append)).Should().Be("Hi 中");
            skipping.Flush().Should().BeEmpty();

            var keeping = tokenizer.NewStreamingDetokenizer(skipSpecialTokens: false);
            (string.Concat(ids.Select(keeping.Append)) + keeping.Flush()).Should().Be(tokenizer.Decode(ids));
        }

        [Fact]
        public void Flush_shows_an_incomplete_character_as_a_replacement_and_starts_over()
        {
            using var tokenizer = TokenizerFixtures.Open("qwen3_moe");
            // 中 is E4 B8 AD; byte-level ids 0..255 are the bytes themselves in this vocabulary.
            var stream = tokenizer.NewStreamingDetokenizer();

            stream.Append('H').Should().Be("H");
            stream.Append(0xE4).Should().BeEmpty();
            stream.Append(0xB8).Should().BeEmpty();
            stream.Flush().Should().Be("\uFFFD");
            stream.Append(0xE4).Should().BeEmpty();
            stream.Append(0xB8).Should().BeEmpty();
            stream.Append(0xAD).Should().Be("中");
        }

        [Fact]
        public void Mistral_streaming_keeps_the_spaces_between_words_and_strips_only_the_first()
        {
            using var tokenizer = TokenizerFixtures.Open("mixtral");
            var ids = tokenizer.Encode("Before we proceed", addSpecialTokens: false);
            var stream = tokenizer.NewStreamingDetokenizer();

            var chunks = new List<string>(ids.Select(stream.Append)) { stream.Flush() };

            string.Concat(chunks).Should().Be("Before we proceed");
            chunks[0].Should().NotStartWith(" ");
        }
    }
}
