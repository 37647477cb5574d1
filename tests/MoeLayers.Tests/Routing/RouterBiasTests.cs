using System;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Routing
{
    /// <summary>
    /// <see cref="MoeLayerOptions.RouterBias"/>: gpt-oss's router is nn.Linear with bias (transformers,
    /// models/gpt_oss/modeling_gpt_oss.py, GptOssTopKRouter.forward, commit 6edf5b311854175ff83c59179b3360beca1ceffc:
    /// router_logits = F.linear(hidden_states, self.weight, self.bias), top-k, softmax over the k).
    /// </summary>
    public class RouterBiasTests
    {
        [Fact]
        public void TheBiasIsRouterBiasFloat32AndStartsAtZero()
        {
            var options = new MoeLayerOptions { InputDim = 4, HiddenDim = 6, NumExperts = 3, TopK = 2, RouterBias = true };
            using var layer = new MoeLayer(options);
            layer.state_dict().Keys.Should().Contain(new[] { "router.weight", "router.bias" });
            layer.Router.Bias!.shape.Should().Equal(3);
            TensorAssert.Values(layer.Router.Bias).Should().Equal(0.0, 0.0, 0.0);
            layer.to(ScalarType.Float64);
            layer.Router.Bias.dtype.Should().Be(ScalarType.Float32);
            layer.Router.Weight.dtype.Should().Be(ScalarType.Float32);

            options.RouterBias = false;
            using var plain = new MoeLayer(options);
            plain.state_dict().Keys.Should().NotContain("router.bias");
            plain.Router.Bias.Should().BeNull();
        }

        [Fact]
        public void ASeedGivesTheSameWeightsWithOrWithoutTheBias()
        {
            var options = new MoeLayerOptions { InputDim = 4, HiddenDim = 6, NumExperts = 3, TopK = 2 };
            manual_seed(9);
            using var plain = new MoeLayer(options);
            options.RouterBias = true;
            manual_seed(9);
            using var biased = new MoeLayer(options);
            foreach (var (name, value) in plain.state_dict()) TensorAssert.Close(biased.state_dict()[name], value, 0, name);
        }

        /// <summary>
        /// x = [1, 0.5], W = [[1, 0], [0, 1], [1, 1]], b = [0, 2, −1]: z = [1, 2.5, 0.5] (without b, [1, 0.5, 1.5]). Top-2 then
        /// softmax: experts 1 and 0 with weights e^1.5/(1 + e^1.5) and 1/(1 + e^1.5); without the bias experts 2 and 0.
        /// </summary>
        [Fact]
        public void TheBiasIsAddedToTheLogitsBeforeSelection()
        {
            var router = new TopKRouter(2, 3, new TopKRule(TopKOrder.TopKThenSoftmax, null), bias: true);
            using (no_grad())
            {
                router.Weight.copy_(tensor(new float[] { 1, 0, 0, 1, 1, 1 }).reshape(3, 2));
                router.Bias!.copy_(tensor(new float[] { 0, 2, -1 }));
            }
            var result = router.call(tensor(new float[] { 1, 0.5f }).reshape(1, 2), 2);
            TensorAssert.Values(result.Logits).Should().Equal(1.0, 2.5, 0.5);
            HostCopy.ToArray<long>(result.ExpertIndices).Should().Equal(1, 0);
            var e = Math.Exp(1.5);
            TensorAssert.Values(result.CombineWeights).Should().Equal(new[] { e / (1 + e), 1 / (1 + e) }, (a, b) => Math.Abs(a - b) < 1e-7);

            result.CombineWeights[0, 0].backward();
            var p = e / (1 + e);
            // d w₀ / d z = p(1 − p) at expert 1, −p(1 − p) at expert 0, nothing at the unchosen expert 2: so for the bias too.
            TensorAssert.Values(router.Bias!.grad!).Should().Equal(new[] { -p * (1 - p), p * (1 - p), 0 }, (a, b) => Math.Abs(a - b) < 1e-7);
        }

        [Fact]
        public void TheFusedSelectionOfAnAcceleratorReadsTheBiasedLogits()
        {
            var router = new TopKRouter(3, 4, new TopKRule(TopKOrder.TopKThenSoftmax, null), bias: true);
            using (no_grad()) router.Bias!.copy_(tensor(new float[] { 3, -3, 1, 0 }));
            var accelerator = new RecordingAccelerator();
            var bank = new ExpertBank(4, 3, 2, 3, ExpertActivation.Gelu);
            var x = randn(5, 3);
            using var routed = router.Route(x, new RoutingRequest(2, null, accelerator, bank, null));
            accelerator.Logits.Should().NotBeNull("the plain softmax rule is the accelerator's to select");
            TensorAssert.Close(accelerator.Logits!, x.matmul(router.Weight.t()) + router.Bias, 1e-6);
        }

        [Theory]
        [InlineData(RouterKind.NoisyTopK)]
        [InlineData(RouterKind.Switch)]
        [InlineData(RouterKind.ExpertChoice)]
        public void OnlyTheTopKRouterTakesABias(RouterKind router)
        {
            var options = new MoeLayerOptions
            {
                InputDim = 4, HiddenDim = 4, NumExperts = 4, TopK = router == RouterKind.Switch ? 1 : 2, Router = router, RouterBias = true,
                Causal = false, LoadBalancingLoss = router == RouterKind.ExpertChoice ? LoadBalancingLossKind.None : LoadBalancingLossKind.Switch,
            };
            MoeLayerOptionsValidator.Failures(options).Should().ContainSingle()
                .Which.Should().Be($"MoeLayerOptions.RouterBias is only used by the TopK router; got Router = {router}.");
        }

        private sealed class RecordingAccelerator : IRoutingAccelerator
        {
            public Tensor? Logits { get; private set; }

            public AcceleratedRouting? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize)
            {
                Logits = logits.detach().clone();
                return null;
            }
        }
    }
}
