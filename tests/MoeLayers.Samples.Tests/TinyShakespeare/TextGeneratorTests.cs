using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Generation;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    [Collection(TorchRandomCollection.Name)]
    public sealed class TextGeneratorTests
    {
        [Fact]
        public void The_same_seed_gives_the_same_text_and_another_seed_another()
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var generator = new TextGenerator(TinyModels.Model(), corpus.Tokenizer);
            var options = new SamplingOptions { Length = 40, Temperature = 1.5, Seed = 9 };

            var first = generator.Generate("to be", options);
            var second = generator.Generate("to be", options);
            var other = generator.Generate("to be", options with { Seed = 10 });

            first.Should().HaveLength(40).And.Be(second);
            other.Should().NotBe(first);
        }

        [Fact]
        public void Top_1_sampling_is_greedy_decoding_past_the_block_size()
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var model = TinyModels.Model();
            model.eval();
            var generated = new TextGenerator(model, corpus.Tokenizer).Generate("or not", new SamplingOptions { Length = 20, TopK = 1, Seed = 3 });

            var context = corpus.Tokenizer.Encode("or not").ToList();
            using (no_grad())
            {
                for (var i = 0; i < 20; i++)
                {
                    var window = context.Skip(Math.Max(0, context.Count - 16)).ToArray();
                    context.Add(model.call(tensor(window, int64).unsqueeze(0))[0, -1].argmax().item<long>());
                }
            }
            generated.Should().Be(corpus.Tokenizer.Decode(context.Skip(6)));
        }

        [Fact]
        public void Prompt_characters_outside_the_vocabulary_and_bad_options_are_rejected()
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var generator = new TextGenerator(TinyModels.Model(), corpus.Tokenizer);

            generator.Invoking(g => g.Generate("Z", new SamplingOptions())).Should().Throw<ArgumentException>().WithMessage("*'Z'*");
            generator.Invoking(g => g.Generate("t", new SamplingOptions { Temperature = 0 })).Should().Throw<ArgumentException>().WithParameterName("Temperature");
            generator.Invoking(g => g.Generate("t", new SamplingOptions { Length = 0 })).Should().Throw<ArgumentException>().WithParameterName("Length");
        }

        [Theory]
        [InlineData(0.0, 0)]
        [InlineData(0.1999, 0)]
        [InlineData(0.2, 2)] // index 1 has probability 0 and is never drawn
        [InlineData(0.6999, 2)]
        [InlineData(0.7, 3)]
        [InlineData(0.99999, 3)]
        public void Draw_inverts_the_cumulative_distribution(double u, long expected)
        {
            TextGenerator.Draw(new[] { 0.2, 0.0, 0.5, 0.3 }, u).Should().Be(expected);
        }
    }
}
