using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>The rotary embedding against values worked out by hand from transformers' formulas.</summary>
    public sealed class RotaryEmbeddingTests
    {
        [Fact]
        public void DefaultFrequenciesAreThetaToTheMinusTwoIOverDim()
        {
            var rotary = new RotaryEmbedding(new RopeSettings(10000, 4, null));
            rotary.InverseFrequencies().data<float>().ToArray().Should().Equal(1f, 0.01f);
            rotary.Scaling.Should().Be(1.0);
        }

        [Fact]
        public void YarnBlendsExtrapolatedAndInterpolatedFrequenciesOverTheCorrectionRange()
        {
            // gpt-oss's rope_scaling on a 16-wide head: theta 150000, factor 32, original 4096, beta 32 / 1, no truncation.
            // correction_dim(r) = 16 ln(4096 / (2π r)) / (2 ln 150000): r = 32 → 2.0233, r = 1 → 4.3494. The ramp
            // (i − 2.0233) / 2.3261 clamped to [0, 1] keeps i = 0…2 extrapolated (the plain frequency), i ≥ 5 interpolated
            // (÷ 32), and blends i = 3 (ramp 0.4199) and i = 4 (ramp 0.8498).
            var yarn = new YarnScaling(32, 4096, 32, 1, Truncate: false, AttentionFactor: 0.1 * Math.Log(32) + 1);
            var rotary = new RotaryEmbedding(new RopeSettings(150000, 16, yarn));
            var ramp = new[] { 0, 0, 0, 0.4199, 0.8498, 1, 1, 1 };
            var expected = Enumerable.Range(0, 8).Select(i => Math.Pow(150000, -2.0 * i / 16) * ((1 - ramp[i]) + ramp[i] / 32)).ToArray();
            var actual = rotary.InverseFrequencies().data<float>().ToArray();
            for (var i = 0; i < 8; i++) actual[i].Should().BeApproximately((float)expected[i], (float)(1e-3 * expected[i]), $"frequency {i} (the ramp worked out to four digits)");
            rotary.Scaling.Should().BeApproximately(1.34657, 1e-5);
        }

        [Fact]
        public void TruncationRoundsTheCorrectionRangeOutward()
        {
            // As above with truncate (the default): low = floor(2.0233) = 2, high = ceil(4.3494) = 5, ramp (i − 2) / 3.
            var yarn = new YarnScaling(32, 4096, 32, 1, Truncate: true, AttentionFactor: 1);
            var actual = new RotaryEmbedding(new RopeSettings(150000, 16, yarn)).InverseFrequencies().data<float>().ToArray();
            var ramp = new[] { 0, 0, 0, 1 / 3.0, 2 / 3.0, 1, 1, 1 };
            for (var i = 0; i < 8; i++)
            {
                var expected = Math.Pow(150000, -2.0 * i / 16) * ((1 - ramp[i]) + ramp[i] / 32);
                actual[i].Should().BeApproximately((float)expected, (float)(1e-5 * expected), $"frequency {i}");
            }
        }

        [Fact]
        public void PartialRotaryTurnsEachPairOfTheLeadingChannelsAndPassesTheRest()
        {
            // head_dim 8, rotary_dim 4 (GLM-4.5's partial_rotary_factor 0.5): pairs (0, 2) and (1, 3) turn by
            // position · inv_freq; channels 4…7 pass unchanged.
            using var scope = NewDisposeScope();
            var rotary = new RotaryEmbedding(new RopeSettings(10000, 4, null));
            var (cos, sin) = rotary.Tables(3, 1, ScalarType.Float32, CPU);
            var x = arange(1, 9, dtype: ScalarType.Float32).reshape(1, 1, 1, 8);
            var y = RotaryEmbedding.Apply(x, cos, sin).reshape(8).data<float>().ToArray();
            double a0 = 3 * 1.0, a1 = 3 * 0.01;
            y[0].Should().BeApproximately((float)(1 * Math.Cos(a0) - 3 * Math.Sin(a0)), 1e-5f);
            y[2].Should().BeApproximately((float)(3 * Math.Cos(a0) + 1 * Math.Sin(a0)), 1e-5f);
            y[1].Should().BeApproximately((float)(2 * Math.Cos(a1) - 4 * Math.Sin(a1)), 1e-5f);
            y[3].Should().BeApproximately((float)(4 * Math.Cos(a1) + 2 * Math.Sin(a1)), 1e-5f);
            y.Skip(4).Should().Equal(5f, 6f, 7f, 8f);
        }
    }
}
