using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel.Generation;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    public class TokenSamplerTests
    {
        private static Tensor Logits(params double[] probabilities) => tensor(probabilities.Select(p => (float)Math.Log(p)).ToArray());

        [Fact]
        public void Greedy_picks_the_largest_logit_in_any_dtype()
        {
            using var sampler = new TokenSampler(SamplingOptions.Greedy);
            sampler.Next(tensor(new[] { 0.1f, 2.5f, -1f, 2.4f })).Should().Be(1);
            sampler.Next(tensor(new[] { 0.1f, 2.5f, -1f, 3f }).to(ScalarType.BFloat16)).Should().Be(3);
            using var topOne = new TokenSampler(new SamplingOptions { Temperature = 5, TopK = 1 });
            topOne.Next(tensor(new[] { 0.1f, 2.5f, -1f, 2.4f })).Should().Be(1, "top-k 1 is greedy at any temperature");
        }

        [Fact]
        public void Top_p_keeps_the_tokens_whose_probability_before_them_is_below_p()
        {
            // Probabilities 0.5, 0.3, 0.2 at temperature 1: before them 0, 0.5, 0.8. With p = 0.75 the first two stay
            // (renormalized to 0.625 and 0.375); with p = 0.5 only the first (0.5 before the second is not below 0.5).
            using var sampler = new TokenSampler(new SamplingOptions { Temperature = 1, TopP = 0.75, Seed = 1 });
            var distribution = sampler.Distribution(Logits(0.2, 0.5, 0.3)).data<float>().ToArray();
            distribution.Should().BeEquivalentTo(new[] { 0f, 0.625f, 0.375f }, o => o.WithStrictOrdering().Using<float>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-6f)).WhenTypeIs<float>());
            using var half = new TokenSampler(new SamplingOptions { Temperature = 1, TopP = 0.5, Seed = 1 });
            half.Distribution(Logits(0.2, 0.5, 0.3)).data<float>().ToArray().Should().Equal(0f, 1f, 0f);
        }

        [Fact]
        public void Temperature_and_top_k_shape_the_distribution()
        {
            // Temperature 2 takes the square root of the probabilities before renormalizing: 0.64, 0.36 → 0.8/1.4, 0.6/1.4.
            using var warm = new TokenSampler(new SamplingOptions { Temperature = 2, Seed = 3 });
            warm.Distribution(Logits(0.64, 0.36)).data<float>().ToArray().Should().BeEquivalentTo(new[] { 0.8f / 1.4f, 0.6f / 1.4f },
                o => o.WithStrictOrdering().Using<float>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-6f)).WhenTypeIs<float>());
            using var topTwo = new TokenSampler(new SamplingOptions { Temperature = 1, TopK = 2, Seed = 3 });
            topTwo.Distribution(Logits(0.1, 0.6, 0.3)).data<float>().ToArray().Should().BeEquivalentTo(new[] { 0f, 2f / 3, 1f / 3 },
                o => o.WithStrictOrdering().Using<float>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-6f)).WhenTypeIs<float>());
        }

        [Fact]
        public void Draws_follow_the_distribution_and_a_seed_repeats_them()
        {
            var options = new SamplingOptions { Temperature = 1, TopP = 0.75, Seed = 42 };
            long[] Draw()
            {
                using var sampler = new TokenSampler(options);
                using var logits = Logits(0.2, 0.5, 0.3);
                return Enumerable.Range(0, 4000).Select(_ => sampler.Next(logits)).ToArray();
            }
            var first = Draw();
            first.Should().Equal(Draw(), "the same seed gives the same tokens");
            first.Should().NotContain(0, "token 0 is outside the nucleus");
            // 0.625 of 4000 = 2500, binomial standard deviation about 31: ±5σ.
            first.Count(t => t == 1).Should().BeInRange(2345, 2655);
        }

        [Fact]
        public void Out_of_range_options_and_logits_are_refused_by_name()
        {
            FluentActions.Invoking(() => new TokenSampler(new SamplingOptions { Temperature = -1 })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("Temperature");
            FluentActions.Invoking(() => new TokenSampler(new SamplingOptions { Temperature = double.NaN })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("Temperature");
            FluentActions.Invoking(() => new TokenSampler(new SamplingOptions { Temperature = 1, TopP = 0 })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("TopP");
            FluentActions.Invoking(() => new TokenSampler(new SamplingOptions { Temperature = 1, TopP = 1.5 })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("TopP");
            FluentActions.Invoking(() => new TokenSampler(new SamplingOptions { TopK = -2 })).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("TopK");
            using var sampler = new TokenSampler(SamplingOptions.Greedy);
            FluentActions.Invoking(() => sampler.Next(zeros(2, 3))).Should().Throw<ArgumentException>().WithParameterName("logits").WithMessage("*[vocab]*[2, 3]*");
        }
    }
}
