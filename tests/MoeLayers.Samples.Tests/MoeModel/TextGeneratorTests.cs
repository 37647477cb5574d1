using System;
using System.Linq;
using System.Threading;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using MoeLayers.Samples.MoeModel.Generation;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>The generation loop on the tiny qwen3_moe folder (its greedy tokens are checked per family by MoeCausalLMParityTests).</summary>
    public sealed class TextGeneratorTests
    {
        private static (MoeCausalLM Model, int[] Prompt, long[] Greedy) Qwen()
        {
            using var scope = NewDisposeScope();
            var reference = MoeModelFixtures.ReferenceOf("qwen3_moe");
            var model = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            return (model, reference.InputIds[0].data<long>().Select(id => (int)id).ToArray(), reference.Generated);
        }

        [Fact]
        public void A_stop_id_ends_the_generation_after_yielding_it()
        {
            var (model, prompt, greedy) = Qwen();
            using var _ = model;
            var stop = (int)greedy[5];
            var firstAt = Array.IndexOf(greedy, (long)stop);
            var tokens = new TextGenerator(model).Generate(prompt, new GenerationOptions { MaxNewTokens = 32, StopTokenIds = new[] { stop } }).ToList();
            tokens.Select(t => (long)t.Id).Should().Equal(greedy.Take(firstAt + 1));
            tokens[^1].IsStop.Should().BeTrue();
            tokens[^1].Statistics.Finish.Should().Be(FinishReason.Stop);
            tokens.Take(tokens.Count - 1).Should().OnlyContain(t => t.Statistics.Finish == FinishReason.None);
        }

        [Fact]
        public void The_limit_ends_it_with_length_and_the_statistics_count_every_token()
        {
            var (model, prompt, greedy) = Qwen();
            using var _ = model;
            var tokens = new TextGenerator(model).Generate(prompt, new GenerationOptions { MaxNewTokens = 4 }).ToList();
            tokens.Select(t => (long)t.Id).Should().Equal(greedy.Take(4));
            var last = tokens[^1].Statistics;
            last.Finish.Should().Be(FinishReason.Length);
            (last.PromptTokens, last.GeneratedTokens).Should().Be((64, 4));
            last.PrefillSeconds.Should().BePositive();
            last.DecodeSeconds.Should().BePositive();
            last.PrefillTokensPerSecond.Should().BeApproximately(64 / last.PrefillSeconds, 1e-9);
            last.DecodeTokensPerSecond.Should().BeApproximately(3 / last.DecodeSeconds, 1e-9);
            last.PeakMemoryBytes.Should().BePositive();
        }

        [Fact]
        public void A_seed_repeats_a_sampled_continuation()
        {
            var (model, prompt, _) = Qwen();
            using var _ = model;
            var options = new GenerationOptions { MaxNewTokens = 12, Sampling = new SamplingOptions { Temperature = 1.5, TopP = 0.95, Seed = 7 } };
            var generator = new TextGenerator(model);
            var first = generator.Generate(prompt, options).Select(t => t.Id).ToArray();
            generator.Generate(prompt, options).Select(t => t.Id).Should().Equal(first);
            generator.Generate(prompt, options with { UseCache = false }).Select(t => t.Id).Should().Equal(first, "the cache changes no logit enough to change a draw");
        }

        [Fact]
        public void Bad_prompts_and_options_are_refused_by_name_before_any_forward()
        {
            var (model, _, _) = Qwen();
            using var _ = model;
            var generator = new TextGenerator(model);
            generator.Invoking(g => g.Generate(Array.Empty<int>(), new GenerationOptions())).Should().Throw<ArgumentException>().WithParameterName("prompt");
            generator.Invoking(g => g.Generate(new[] { 1, 512 }, new GenerationOptions())).Should().Throw<ArgumentOutOfRangeException>()
                .WithParameterName("prompt").WithMessage("*vocab_size = 512*512*");
            generator.Invoking(g => g.Generate(new[] { 1 }, new GenerationOptions { MaxNewTokens = 0 })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("MaxNewTokens");
            generator.Invoking(g => g.Generate(new[] { 1 }, new GenerationOptions { Sampling = new SamplingOptions { TopP = 2 } })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("TopP");
        }

        [Fact]
        public void Cancellation_ends_it_between_tokens()
        {
            var (model, prompt, _) = Qwen();
            using var _ = model;
            using var cancel = new CancellationTokenSource();
            var seen = 0;
            var run = () =>
            {
                foreach (var token in new TextGenerator(model).Generate(prompt, new GenerationOptions { MaxNewTokens = 32 }, cancel.Token))
                {
                    if (++seen == 3) cancel.Cancel();
                }
            };
            run.Should().Throw<OperationCanceledException>();
            seen.Should().Be(3);
        }
    }
}
