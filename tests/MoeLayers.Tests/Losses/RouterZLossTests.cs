using System;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Losses
{
    public class RouterZLossTests
    {
        [Fact]
        public void MatchesHandComputedValue()
        {
            // Row 0: logsumexp(0, 0) = ln 2; row 1: logsumexp(ln 3, 0) = ln 4. Mean of squares.
            var logits = tensor(new[] { 0f, 0f, (float)Math.Log(3), 0f }).reshape(2, 2);
            var expected = (Math.Pow(Math.Log(2), 2) + Math.Pow(Math.Log(4), 2)) / 2;
            TensorAssert.Close(RouterZLoss.Compute(logits), expected, 1e-5);
        }

        [Fact]
        public void MaskedTokensDoNotCount()
        {
            var logits = tensor(new[] { 0f, 0f, 100f, 100f }).reshape(2, 2);
            TensorAssert.Close(RouterZLoss.Compute(logits, tensor(new[] { 1f, 0f })), Math.Pow(Math.Log(2), 2), 1e-5);
        }

        [Fact]
        public void GradientIsTwoLseTimesSoftmaxOverT()
        {
            var logits = tensor(new[] { 1f, 2f, 3f }).reshape(1, 3).requires_grad_(true);
            RouterZLoss.Compute(logits).backward();
            var lse = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3));
            var g = TensorAssert.Values(logits.grad!);
            for (var j = 0; j < 3; j++)
            {
                g[j].Should().BeApproximately(2 * lse * Math.Exp(j + 1 - lse), 1e-5);
            }
        }
    }
}
