using System;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Losses
{
    public class ImportanceLoadLossTests
    {
        [Fact]
        public void CvSquaredUsesUnbiasedVariance()
        {
            // v = (1, 2, 3): mean 2, unbiased variance 1 -> CV² = 1/4.
            TensorAssert.Close(ImportanceLoadLoss.CoefficientOfVariationSquared(tensor(new[] { 1f, 2f, 3f })), 0.25, 1e-6);
        }

        [Fact]
        public void CvSquaredIsZeroForBalancedAndForOneExpert()
        {
            TensorAssert.Close(ImportanceLoadLoss.CoefficientOfVariationSquared(tensor(new[] { 3f, 3f, 3f, 3f })), 0.0, 1e-7);
            TensorAssert.Close(ImportanceLoadLoss.CoefficientOfVariationSquared(tensor(new[] { 5f })), 0.0, 0.0);
        }

        [Fact]
        public void ImportanceOnlyWithoutNoise()
        {
            // Gates: token 0 -> e0 .75, e1 .25; token 1 -> e0 1.0 (k = 2, E = 3).
            // Importance = (1.75, .25, 0): mean 2/3, unbiased var = ((1.0833)² + (.4167)² + (.6667)²)/2.
            var indices = tensor(new long[] { 0, 1, 0, 2 }).reshape(2, 2);
            var weights = tensor(new[] { 0.75f, 0.25f, 1f, 0f }).reshape(2, 2);
            var logits = zeros(2, 3);
            var routing = new RoutingResult(indices, weights, logits, logits.softmax(1));
            var imp = new[] { 1.75, 0.25, 0.0 };
            var mean = 2.0 / 3;
            var variance = ((imp[0] - mean) * (imp[0] - mean) + (imp[1] - mean) * (imp[1] - mean) + mean * mean) / 2;
            TensorAssert.Close(ImportanceLoadLoss.Compute(routing), variance / (mean * mean), 1e-5);
        }

        [Fact]
        public void SmoothLoadMatchesHandComputedNormalCdf()
        {
            // One token, E = 3, k = 1. Noisy logits (2, 1, 0): expert 0 is in the top 1.
            // Expert 0 (in): threshold = 2nd largest noisy = 1 -> Φ((z0 - 1)/σ0).
            // Experts 1, 2 (out): threshold = 1st largest noisy = 2 -> Φ((zi - 2)/σi).
            var clean = tensor(new[] { 1.5f, 0.5f, -1f }).reshape(1, 3);
            var noisy = tensor(new[] { 2f, 1f, 0f }).reshape(1, 3);
            var std = tensor(new[] { 0.5f, 1f, 2f }).reshape(1, 3);
            var load = TensorAssert.Values(ImportanceLoadLoss.SmoothLoad(clean, noisy, std, 1));
            load[0].Should().BeApproximately(Phi((1.5 - 1) / 0.5), 1e-6);
            load[1].Should().BeApproximately(Phi((0.5 - 2) / 1.0), 1e-6);
            load[2].Should().BeApproximately(Phi((-1 - 2) / 2.0), 1e-6);
        }

        [Fact]
        public void SmoothLoadWithKEqualToEIsTokenCount()
        {
            var z = zeros(4, 2);
            TensorAssert.Close(ImportanceLoadLoss.SmoothLoad(z, z, ones(4, 2), 2), full(2, 4f), 0);
        }

        [Fact]
        public void NoisyLossHasGradientForNoiseWeightsThroughLoad()
        {
            var clean = tensor(new[] { 0.3f, 0.1f, -0.2f, 0.4f, 0.0f, 0.2f }).reshape(2, 3).requires_grad_(true);
            var std = tensor(new[] { 1f, 1f, 1f, 1f, 1f, 1f }).reshape(2, 3).requires_grad_(true);
            var noisy = clean.detach() + tensor(new[] { 0.5f, -0.3f, 0.1f, -0.2f, 0.6f, 0f }).reshape(2, 3);
            var (values, indices) = noisy.topk(1, 1);
            var routing = new RoutingResult(indices, values.softmax(1), clean, noisy.softmax(1), noisy, std);
            ImportanceLoadLoss.Compute(routing).backward();
            TensorAssert.Values(std.grad!).Should().Contain(g => Math.Abs(g) > 1e-6);
            TensorAssert.Values(clean.grad!).Should().Contain(g => Math.Abs(g) > 1e-6);
        }

        private static double Phi(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2)));

        // Abramowitz-Stegun 7.1.26 is too coarse; use a series good to 1e-12 on |x| < 3.
        private static double Erf(double x)
        {
            double sum = 0, term = x;
            for (var n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
    }
}
