using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    [Collection(TorchRandomCollection.Name)]
    public sealed class CharTransformerTests
    {
        public static IEnumerable<object[]> CausalRouters => RouterNames.CausalChoices.Select(r => new object[] { r.Name });

        [Theory]
        [MemberData(nameof(CausalRouters))]
        public void Changing_a_future_character_leaves_earlier_logits_unchanged(string router)
        {
            using var scope = NewDisposeScope();
            var model = Trainer.CreateModel(TinyModels.Config(RouterNames.ParseChoice(router)), seed: 11);
            model.eval();
            var tokens = TinyModels.RandomTokens(16, 16, seed: 2);
            var changed = tokens.clone();
            changed[0, 9] = tensor((tokens[0, 9].item<long>() + 5) % 16);

            using var noGrad = no_grad();
            var before = model.call(tokens);
            var after = model.call(changed);

            var earlier = (before[.., ..9] - after[.., ..9]).abs().max().item<float>();
            var later = (before[.., 9..] - after[.., 9..]).abs().max().item<float>();
            earlier.Should().BeLessThan(1e-5f, "positions 0–8 must not see position 9");
            later.Should().BeGreaterThan(1e-3f, "position 9 and later do see the change");
        }

        [Fact]
        public void Expert_choice_lets_later_characters_change_earlier_logits()
        {
            using var scope = NewDisposeScope();
            var model = Trainer.CreateModel(TinyModels.Config(RouterNames.ParseChoice("expert-choice", allowFutureLeak: true)), seed: 11);
            model.eval();
            var tokens = TinyModels.RandomTokens(16, 16, seed: 2);

            using var noGrad = no_grad();
            var before = model.call(tokens);
            // Replace the second half of the sequence by other random characters, a few times: each expert's top-C tokens are
            // chosen among all 16 positions, so some replacement moves an earlier token in or out of an expert.
            var largest = Enumerable.Range(0, 8).Max(seed =>
            {
                var changed = tokens.clone();
                changed[.., 8..] = TinyModels.RandomTokens(16, 8, seed: 100 + seed);
                return (before[.., ..8] - model.call(changed)[.., ..8]).abs().max().item<float>();
            });

            largest.Should().BeGreaterThan(1e-4f, "a token's routing depends on later tokens: the leak the sample refuses by default");
        }

        [Fact]
        public void Logits_have_one_row_per_position_and_vocabulary_entry()
        {
            using var scope = NewDisposeScope();
            var model = TinyModels.Model();

            var logits = model.call(TinyModels.RandomTokens(model.Config.VocabularySize, 5, seed: 1).expand(3, 5));

            logits.shape.Should().Equal(3L, 5L, (long)model.Config.VocabularySize);
        }

        [Fact]
        public void Seed_preset_has_about_nine_million_parameters()
        {
            using var scope = NewDisposeScope();
            var model = new CharTransformer(Preset.Seed.Model with { VocabularySize = 65 });

            // Per block: 2 LayerNorms 512, q/k/v 49,152, projection 16,512, noisy router 2 × 1,024,
            // 8 experts × (128·512 + 512 + 512·128 + 128) = 1,053,696; plus embeddings 8,320 + 4,096, final norm 256, head 8,385.
            model.ParameterCount.Should().Be(8 * (512 + 49_152 + 16_512 + 2_048 + 1_053_696) + 8_320 + 4_096 + 256 + 8_385);
            model.ParameterCount.Should().BeInRange(8_900_000, 9_100_000);
        }

        [Fact]
        public void Inputs_longer_than_the_block_or_outside_the_vocabulary_are_rejected()
        {
            using var scope = NewDisposeScope();
            var model = TinyModels.Model();
            var v = model.Config.VocabularySize;

            model.Invoking(m => m.call(zeros(1, 17, int64))).Should().Throw<ArgumentException>().WithMessage("*1 to 16 positions*got 17*");
            model.Invoking(m => m.call(full(1, 4, v, int64))).Should().Throw<ArgumentException>().WithMessage($"*[0, {v})*");
            model.Invoking(m => m.call(zeros(1, 4, float32))).Should().Throw<ArgumentException>().WithMessage("*int64*");
        }

        [Fact]
        public void Heads_must_divide_the_width()
        {
            var config = TinyModels.Config() with { Heads = 3 };

            config.Invoking(c => c.Validate()).Should().Throw<ArgumentException>().WithParameterName("Heads");
        }
    }
}
