using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Data;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class CharTokenizerTests
    {
        [Fact]
        public void Bundled_text_has_the_65_character_vocabulary_in_ordinal_order()
        {
            var tokenizer = CharTokenizer.FromText(File.ReadAllText(TextCorpus.DefaultPath));

            tokenizer.VocabularySize.Should().Be(65);
            tokenizer.Alphabet.Should().Be("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
            tokenizer.Encode("\n !A").Should().Equal(0L, 1L, 2L, 13L);
        }

        [Fact]
        public void Encode_then_decode_gives_back_the_text()
        {
            var text = File.ReadAllText(TextCorpus.DefaultPath)[..5000];
            var tokenizer = CharTokenizer.FromText(text);

            tokenizer.Decode(tokenizer.Encode(text)).Should().Be(text);
        }

        [Fact]
        public void Unknown_character_is_named_with_its_position()
        {
            var tokenizer = new CharTokenizer("abc");

            var act = () => tokenizer.Encode("abz");

            act.Should().Throw<ArgumentException>().WithParameterName("text").WithMessage("*'z' (U+007A) at position 2*");
        }

        [Fact]
        public void Decode_rejects_ids_outside_the_vocabulary()
        {
            var tokenizer = new CharTokenizer("abc");

            tokenizer.Invoking(t => t.Decode(new[] { 0L, 3L })).Should().Throw<ArgumentException>().WithMessage("*[0, 3)*got 3*");
            tokenizer.Invoking(t => t.Decode(new[] { -1L })).Should().Throw<ArgumentException>();
        }

        [Fact]
        public void Alphabet_must_be_non_empty_and_distinct()
        {
            FluentActions.Invoking(() => new CharTokenizer("")).Should().Throw<ArgumentException>().WithParameterName("alphabet");
            FluentActions.Invoking(() => new CharTokenizer("aba")).Should().Throw<ArgumentException>().WithMessage("*'a'*twice*");
        }

        [Fact]
        public void Vocabulary_is_sorted_and_distinct()
        {
            var tokenizer = CharTokenizer.FromText("banana!");

            tokenizer.Alphabet.Should().Be("!abn");
            tokenizer.Encode("banana!").Should().Equal(2L, 1L, 3L, 1L, 3L, 1L, 0L);
            tokenizer.Alphabet.Distinct().Should().HaveCount(tokenizer.VocabularySize);
        }
    }
}
