using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Routing
{
    public class RouterTests
    {
        private static void SetWeight(Router router, float[] values)
        {
            using var _ = no_grad();
            router.Weight.copy_(tensor(values).reshape(router.Weight.shape));
        }

        [Fact]
        public void SoftmaxThenTopKSelectsLargestAndRenormalizes()
        {
            // d = 1, E = 3: logits = x * (1, 2, 3); with x = 1, softmax(1, 2, 3) = (.090, .245, .665).
            var router = new TopKRouter(1, 3);
            SetWeight(router, new[] { 1f, 2f, 3f });
            var r = router.call(ones(1, 1), 2);
            TensorAssert.Values(r.ExpertIndices).Should().Equal(2, 1);
            var p = new[] { Math.Exp(1), Math.Exp(2), Math.Exp(3) };
            var total = p.Sum();
            var w = TensorAssert.Values(r.CombineWeights);
            w[0].Should().BeApproximately(p[2] / (p[1] + p[2]), 1e-6);
            w[1].Should().BeApproximately(p[1] / (p[1] + p[2]), 1e-6);
            TensorAssert.Values(r.Probabilities)[2].Should().BeApproximately(p[2] / total, 1e-6);
        }

        [Fact]
        public void SoftmaxThenTopKWithoutRenormalizationKeepsProbabilities()
        {
            var router = new TopKRouter(1, 3, new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: false));
            SetWeight(router, new[] { 1f, 2f, 3f });
            var w = TensorAssert.Values(router.call(ones(1, 1), 2).CombineWeights);
            var total = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
            w[0].Should().BeApproximately(Math.Exp(3) / total, 1e-6);
            w[1].Should().BeApproximately(Math.Exp(2) / total, 1e-6);
        }

        [Fact]
        public void BothOrdersSelectTheSameExpertsAndWeights()
        {
            manual_seed(3);
            var a = new TopKRouter(16, 8, new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: true));
            var b = new TopKRouter(16, 8, new TopKRule(TopKOrder.TopKThenSoftmax, null));
            b.load_state_dict(a.state_dict());
            var x = randn(64, 16);
            var ra = a.call(x, 2);
            var rb = b.call(x, 2);
            TensorAssert.Values(ra.ExpertIndices).Should().Equal(TensorAssert.Values(rb.ExpertIndices));
            TensorAssert.Close(ra.CombineWeights, rb.CombineWeights, 1e-6);
        }

        [Fact]
        public void RouterComputesInFloat32ForHalfInputs()
        {
            var router = new TopKRouter(4, 4);
            var r = router.call(randn(3, 4).to(ScalarType.Float16), 1);
            r.Logits.dtype.Should().Be(ScalarType.Float32);
            r.CombineWeights.dtype.Should().Be(ScalarType.Float32);
        }

        [Fact]
        public void NoisyRouterIsDeterministicInEvalMode()
        {
            manual_seed(1);
            var router = new NoisyTopKRouter(8, 4, zeroInit: false);
            router.eval();
            var x = randn(32, 8);
            var first = router.call(x, 2);
            var second = router.call(x, 2);
            TensorAssert.Values(first.ExpertIndices).Should().Equal(TensorAssert.Values(second.ExpertIndices));
            TensorAssert.Close(first.CombineWeights, second.CombineWeights, 0);
            first.NoisyLogits.Should().BeNull();
        }

        [Fact]
        public void NoisyRouterAddsNoiseInTrainingAndStartsAtZero()
        {
            manual_seed(2);
            var router = new NoisyTopKRouter(8, 4);
            TensorAssert.Values(router.Weight).Should().OnlyContain(v => v == 0);
            router.train();
            var r = router.call(randn(256, 8), 1);
            r.NoisyLogits.Should().NotBeNull();
            // Zero weights: clean logits are 0, so selection is driven by noise and every expert gets tokens.
            TensorAssert.Values(r.ExpertIndices).Distinct().Should().HaveCount(4);
            // σ = softplus(0) + 0.01.
            TensorAssert.Values(r.NoiseStd!).Should().OnlyContain(s => Math.Abs(s - (Math.Log(2) + 0.01)) < 1e-6);
        }

        [Fact]
        public void SwitchRouterWeightIsUnrenormalizedProbabilityAndGetsGradient()
        {
            manual_seed(4);
            var router = new SwitchRouter(6, 4);
            var r = router.call(randn(10, 6), 1);
            r.ExpertIndices.shape.Should().Equal(10, 1);
            var chosen = r.Probabilities.gather(1, r.ExpertIndices);
            TensorAssert.Close(r.CombineWeights, chosen, 0);
            TensorAssert.Values(r.CombineWeights).Should().OnlyContain(w => w < 1.0);
            r.CombineWeights.sum().backward();
            TensorAssert.Values(router.Weight.grad!).Should().Contain(g => Math.Abs(g) > 1e-6);
        }

        [Fact]
        public void SwitchJitterOnlyInTraining()
        {
            manual_seed(5);
            var router = new SwitchRouter(6, 4, jitter: 0.5);
            var x = randn(10, 6);
            router.eval();
            TensorAssert.Close(router.call(x, 1).Logits, router.call(x, 1).Logits, 0);
            router.train();
            TensorAssert.Values(router.call(x, 1).Logits).Should().NotEqual(TensorAssert.Values(router.call(x, 1).Logits));
        }

        [Theory]
        [InlineData(0, 4, 1, "inputDim")]
        [InlineData(4, 0, 1, "numExperts")]
        [InlineData(4, 3, 4, "topK")]
        public void RejectsBadShapes(int d, int experts, int k, string parameter)
        {
            var act = () => new TopKRouter(d, experts).call(ones(1, d), k);
            act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(parameter);
        }

        [Fact]
        public void RejectsWrongInputWidth()
        {
            var router = new TopKRouter(4, 3);
            var act = () => router.call(ones(2, 5), 1);
            act.Should().Throw<ArgumentException>().WithMessage("input must have shape [*, 4]; got [2, 5].*");
        }
    }
}
