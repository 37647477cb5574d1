using System;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Routing
{
    /// <summary>
    /// ERNIE 4.5's router (transformers, models/ernie4_5_moe/modeling_ernie4_5_moe.py, Ernie4_5_MoeSparseMoeBlock.forward
    /// and Ernie4_5_MoeStatics, commit 01187e21cda13b3f08fdb45b7e32b78d173d702a): probs = softmax(logits) in float32;
    /// experts = top-k of probs + e_score_correction_bias; weights = probs at those experts ÷ clamp(Σ, min = moe_norm_min =
    /// 1e-12). Our top-k router with <see cref="ScoreFunction.Softmax"/> and <see cref="MoeLayerOptions.BalanceBias"/>.
    /// </summary>
    public class ErnieRoutingTests
    {
        private static TopKRouter Router(int experts, float[] balanceBias)
        {
            var router = new TopKRouter(experts, experts, new TopKRule(TopKOrder.SoftmaxThenTopK, null, ScoreFunction.Softmax, BalanceBias: true));
            using (no_grad()) router.BalanceBias!.copy_(tensor(balanceBias));
            return router;
        }

        [Fact]
        public void TheOptionsAreValid()
        {
            var options = new MoeLayerOptions { InputDim = 8, HiddenDim = 4, NumExperts = 8, TopK = 2, ScoreFunction = ScoreFunction.Softmax, BalanceBias = true, SharedExperts = 1 };
            MoeLayerOptionsValidator.Failures(options).Should().BeEmpty();
            using var layer = new MoeLayer(options);
            layer.state_dict().Keys.Should().Contain("router.correction_bias");
        }

        /// <summary>
        /// z = [2, 1, 0.5, −1], b = [0, 0.3, 0.1, 0.9]: p = softmax(z) = [0.60946, 0.22421, 0.13599, 0.03034]; p + b =
        /// [0.60946, 0.52421, 0.23599, 0.93034], so experts 3 then 0 (the probabilities alone pick 0 and 1); weights
        /// p₃/(p₃ + p₀) = 1/(1 + e³) and e³/(1 + e³).
        /// </summary>
        [Fact]
        public void TheBiasChoosesAndTheProbabilitiesWeigh()
        {
            var router = Router(4, new[] { 0f, 0.3f, 0.1f, 0.9f });
            var logits = tensor(new[] { 2f, 1f, 0.5f, -1f }).reshape(1, 4);
            var result = router.Select(logits, logits, 2, null);
            HostCopy.ToArray<long>(result.ExpertIndices).Should().Equal(3, 0);
            var e3 = Math.Exp(3);
            TensorAssert.Values(result.CombineWeights).Should().Equal(new[] { 1 / (1 + e3), e3 / (1 + e3) }, (a, b) => Math.Abs(a - b) < 1e-7);
            TensorAssert.Values(result.Probabilities).Should().Equal(new[] { 0.6094600375988771, 0.22420781804820114, 0.13598891579350553, 0.03034322855941623 },
                (a, b) => Math.Abs(a - b) < 1e-7);
        }

        /// <summary>
        /// Our renormalization divides by Σ + 1e-20, ERNIE's by max(Σ, 1e-12). In float32 they give the same bits whenever
        /// Σ ≥ 1e-12 (1e-20 is under half an ulp of such a Σ), checked here on random rows whose biases move the choice.
        /// </summary>
        [Fact]
        public void TheWeightsAreErniesToTheBitWhenTheChosenProbabilitiesSumToAtLeast1e12()
        {
            const int experts = 16, k = 4;
            var generator = new Generator(11);
            var bias = (rand(new long[] { experts }, generator: generator) * 0.2).data<float>().ToArray();
            var router = Router(experts, bias);
            var logits = randn(new long[] { 256, experts }, generator: generator) * 4;
            var result = router.Select(logits, logits, k, null);

            var probabilities = logits.softmax(-1);
            var (_, chosen) = (probabilities + tensor(bias)).topk(k, dim: -1);
            var gathered = probabilities.gather(1, chosen);
            var sums = gathered.sum(-1, keepdim: true);
            (sums >= 1e-12).all().item<bool>().Should().BeTrue();
            var ernie = gathered / sums.clamp_min(1e-12);

            HostCopy.ToArray<long>(result.ExpertIndices).Should().Equal(HostCopy.ToArray<long>(chosen));
            HostCopy.ToArray<float>(result.CombineWeights).Should().Equal(HostCopy.ToArray<float>(ernie));
        }

        /// <summary>
        /// The one difference: chosen experts whose probabilities sum below 1e-12 (a bias overriding the softmax by more than
        /// the largest probability). z = [0, −40, −41, −60], b = [0, 2, 2, 0] chooses experts 1 and 2 with Σ ≈ 5.9e-18:
        /// ERNIE's weights are p/1e-12 (summing to ≈ 5.9e-6), ours p/(Σ + 1e-20) (summing to 1 − 1e-20/(Σ + 1e-20) ≈ 0.998).
        /// </summary>
        [Fact]
        public void BelowASumOf1e12TheWeightsDifferFromErnies()
        {
            var router = Router(4, new[] { 0f, 2f, 2f, 0f });
            var logits = tensor(new[] { 0f, -40f, -41f, -60f }).reshape(1, 4);
            var result = router.Select(logits, logits, 2, null);
            HostCopy.ToArray<long>(result.ExpertIndices).Should().Equal(1, 2);
            var p = logits.softmax(-1).gather(1, result.ExpertIndices);
            var sum = p.sum().item<float>();
            sum.Should().BeLessThan(1e-12f);
            var ernie = p / 1e-12;
            ernie.sum().item<float>().Should().BeApproximately(sum / 1e-12f, 1e-9f);
            result.CombineWeights.sum().item<float>().Should().BeApproximately(sum / (sum + 1e-20f), 1e-6f);
            result.CombineWeights.sum().item<float>().Should().BeGreaterThan(0.99f);
        }
    }
}
