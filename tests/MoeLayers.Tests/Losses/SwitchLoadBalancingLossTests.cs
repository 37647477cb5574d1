using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Losses
{
    public class SwitchLoadBalancingLossTests
    {
        [Fact]
        public void PerfectlyBalancedRouterScoresExactlyOne()
        {
            // 4 tokens, 4 experts, k = 2: every expert gets 2 of the 8 assignments and mean probability 1/4.
            var probabilities = full(4, 4, 0.25f);
            var indices = tensor(new long[] { 0, 1, 2, 3, 0, 2, 1, 3 }).reshape(4, 2);
            TensorAssert.Close(SwitchLoadBalancingLoss.Compute(probabilities, indices), 1.0, 1e-6);
        }

        [Fact]
        public void MatchesHandComputedValue()
        {
            // T = 2, E = 2, k = 1. Token 0 -> expert 0 (p = .7, .3); token 1 -> expert 0 (p = .6, .4).
            // f = (1, 0); P = (.65, .35); loss = E * (1*.65 + 0*.35) = 1.3.
            var probabilities = tensor(new[] { 0.7f, 0.3f, 0.6f, 0.4f }).reshape(2, 2);
            var indices = tensor(new long[] { 0, 0 }).reshape(2, 1);
            TensorAssert.Close(SwitchLoadBalancingLoss.Compute(probabilities, indices), 1.3, 1e-6);
        }

        [Fact]
        public void MaskExcludesPaddingTokens()
        {
            // Third token is padding and would unbalance the result.
            var probabilities = tensor(new[] { 0.5f, 0.5f, 0.5f, 0.5f, 1f, 0f }).reshape(3, 2);
            var indices = tensor(new long[] { 0, 1, 0 }).reshape(3, 1);
            var mask = tensor(new[] { 1f, 1f, 0f });
            TensorAssert.Close(SwitchLoadBalancingLoss.Compute(probabilities, indices, mask), 1.0, 1e-6);
            // Unmasked: f = (2/3, 1/3), P = (2/3, 1/3) -> 2 * (4/9 + 1/9) = 10/9.
            TensorAssert.Close(SwitchLoadBalancingLoss.Compute(probabilities, indices), 10.0 / 9.0, 1e-6);
        }

        [Fact]
        public void SingleExpertScoresOne()
        {
            var probabilities = ones(5, 1);
            var indices = zeros(5, 1, ScalarType.Int64);
            TensorAssert.Close(SwitchLoadBalancingLoss.Compute(probabilities, indices), 1.0, 1e-6);
        }

        [Fact]
        public void GradientFlowsThroughProbabilitiesOnly()
        {
            // dL/dP_i = E * f_i / T per token: f = (1, 0) -> gradient (2/2, 0) for each token.
            var logits = tensor(new[] { 1f, 0f, 2f, 0f }).reshape(2, 2).requires_grad_(true);
            var probabilities = logits.softmax(1);
            var indices = tensor(new long[] { 0, 0 }).reshape(2, 1);
            SwitchLoadBalancingLoss.Compute(probabilities, indices).backward();
            var p = TensorAssert.Values(probabilities);
            var g = TensorAssert.Values(logits.grad!);
            // d/dz of p0 (times 1) is p0 * p1 for the softmax over two entries.
            g[0].Should().BeApproximately(p[0] * p[1], 1e-6);
            g[1].Should().BeApproximately(-p[0] * p[1], 1e-6);
            g[2].Should().BeApproximately(p[2] * p[3], 1e-6);
        }

        [Fact]
        public void RejectsMismatchedIndices()
        {
            var act = () => SwitchLoadBalancingLoss.Compute(ones(3, 2), zeros(4, 1, ScalarType.Int64));
            act.Should().Throw<System.ArgumentException>().WithMessage("*expertIndices must have shape [3, k]*[4, 1]*");
        }
    }
}
