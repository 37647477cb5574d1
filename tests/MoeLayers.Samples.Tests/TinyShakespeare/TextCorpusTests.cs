using System;
using System.IO;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Data;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class TextCorpusTests : IDisposable
    {
        private readonly TempFolder _temp = new();

        public void Dispose() => _temp.Dispose();

        [Fact]
        public void Bundled_text_splits_90_10_into_contiguous_parts()
        {
            var corpus = TextCorpus.Load(TextCorpus.DefaultPath, blockSize: 32);

            corpus.Train.shape[0].Should().Be(1_003_854); // floor(0.9 · 1,115,394)
            corpus.Validation.shape[0].Should().Be(111_540);
            var text = File.ReadAllText(TextCorpus.DefaultPath);
            corpus.Tokenizer.Decode(corpus.Validation.narrow(0, 0, 40).data<long>().ToArray()).Should().Be(text.Substring(1_003_854, 40));
        }

        [Fact]
        public void Empty_file_is_rejected_with_its_path()
        {
            var path = _temp.File("empty.txt");
            File.WriteAllText(path, "");

            var act = () => TextCorpus.Load(path, blockSize: 8);

            act.Should().Throw<InvalidDataException>().WithMessage($"*{path}*empty*");
        }

        [Fact]
        public void Missing_file_is_reported()
        {
            var act = () => TextCorpus.Load(_temp.File("missing.txt"), blockSize: 8);

            act.Should().Throw<FileNotFoundException>().WithMessage("*missing.txt*");
        }

        [Fact]
        public void Text_shorter_than_a_block_per_split_is_rejected_with_the_minimum_length()
        {
            // Block 32 needs 33 validation characters: n − floor(0.9 n) ≥ 33 first holds at n = 321 (321 − 288).
            TextCorpus.MinimumLength(32).Should().Be(321);
            var path = _temp.File("short.txt");
            File.WriteAllText(path, new string('a', 320));

            var act = () => TextCorpus.Load(path, blockSize: 32);

            act.Should().Throw<InvalidDataException>().WithMessage("*320 characters*at least 321 characters*");
            TextCorpus.FromText(new string('a', 321), blockSize: 32).Validation.shape[0].Should().Be(33);
        }

        [Fact]
        public void An_existing_vocabulary_rejects_new_characters()
        {
            var act = () => TextCorpus.FromText(new string('x', 400), 8, tokenizer: new CharTokenizer("ab"));

            act.Should().Throw<ArgumentException>().WithMessage("*'x'*");
        }
    }
}
