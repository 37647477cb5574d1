using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>Shared experts are a dense FFN over every token; expert choice keeps exactly C tokens per expert.</summary>
    public class SharedExpertAndExpertChoiceTests
    {
        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void SharedExpertsAddADenseFfnOfEveryToken(bool gated)
        {
            manual_seed(91);
            var options = new MoeLayerOptions
            {
                InputDim = 6, HiddenDim = 4, NumExperts = 3, TopK = 2, Activation = ExpertActivation.SwiGlu,
                SharedExperts = 2, SharedHiddenDim = 5, SharedExpertGate = gated,
            };
            var layer = (MoeLayer)Moe.Create(options);
            layer.to(ScalarType.Float64);
            var x = randn(7, 6, ScalarType.Float64);
            var shared = layer.Shared!;
            shared.InputWeight.shape.Should().Equal(6, 10);
            shared.OutputWeight.shape.Should().Equal(10, 6);

            // Dense reference: two SwiGLU experts of width 5, summed, optionally times σ(x·w_g).
            var dense = zeros(7, 6, ScalarType.Float64);
            for (var i = 0; i < 2; i++)
            {
                var wIn = shared.InputWeight.narrow(1, i * 5, 5);
                var wGate = shared.GateWeight!.narrow(1, i * 5, 5);
                var wOut = shared.OutputWeight.narrow(0, i * 5, 5);
                dense += (nn.functional.silu(x.matmul(wGate)) * x.matmul(wIn)).matmul(wOut);
            }
            if (gated) dense *= x.matmul(shared.OutputGate!.t()).sigmoid();

            var withShared = layer.Run(x).Output;
            var routedOnly = Routed(layer, x);
            TensorAssert.Close(withShared - routedOnly, dense, 1e-12, "shared part");
        }

        private static Tensor Routed(MoeLayer layer, Tensor x)
        {
            var options = layer.Options;
            options.SharedExperts = 0;
            options.SharedHiddenDim = 0;
            options.SharedExpertGate = false;
            var routedLayer = (MoeLayer)Moe.Create(options);
            routedLayer.to(ScalarType.Float64);
            routedLayer.load_state_dict(layer.state_dict().Where(kv => !kv.Key.StartsWith("shared_experts.")).ToDictionary(kv => kv.Key, kv => kv.Value));
            return routedLayer.Run(x).Output;
        }

        [Fact]
        public void SharedExpertsGiveZeroOutputToPadding()
        {
            var layer = Moe.Create(new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 2, TopK = 2, SharedExperts = 1 });
            var output = layer.Run(randn(3, 4), tensor(new[] { true, false, true })).Output;
            output[1].abs().max().item<float>().Should().Be(0);
        }

        [Fact]
        public void ExpertChoiceKeepsExactlyCTokensPerExpert()
        {
            manual_seed(92);
            var options = new MoeLayerOptions
            {
                InputDim = 6, HiddenDim = 4, NumExperts = 4, TopK = 2, Router = RouterKind.ExpertChoice, Causal = false,
                LoadBalancingLoss = LoadBalancingLossKind.None, CapacityFactor = 1.0, MinCapacity = 1,
            };
            var layer = (MoeLayer)Moe.Create(options);
            layer.to(ScalarType.Float64);
            var x = randn(10, 6, ScalarType.Float64);
            var output = layer.Run(x);
            // C = ceil(1.0·2·10/4) = 5 tokens for every expert.
            output.Statistics!.AssignedPerExpert.Should().Equal(5, 5, 5, 5);
            output.Statistics.KeptPerExpert.Should().Equal(5, 5, 5, 5);
            var selected = output.Routing.SelectedPairs!;
            selected.to(ScalarType.Int64).sum(0L).data<long>().ToArray().Should().Equal(5L, 5L, 5L, 5L);

            // Reference: each expert's top-5 tokens by softmax affinity, weighted by it.
            var probabilities = output.Routing.Probabilities.to(ScalarType.Float64);
            IExpertBank experts = layer.Experts;
            var expected = zeros(10, 6, ScalarType.Float64);
            for (var e = 0; e < 4; e++)
            {
                var tokens = probabilities[.., e].topk(5).indexes;
                var rows = experts.ForwardExpert(e, x.index_select(0, tokens), tokens);
                expected = expected.index_add(0, tokens, rows * probabilities[.., e].index_select(0, tokens).unsqueeze(1), 1.0);
            }
            TensorAssert.Close(output.Output, expected, 1e-12, "expert choice output");
        }

        [Fact]
        public void ExpertChoiceNeverPicksPadding()
        {
            var options = new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 2, TopK = 1, Router = RouterKind.ExpertChoice, Causal = false, LoadBalancingLoss = LoadBalancingLossKind.None, MinCapacity = 1 };
            var layer = Moe.Create(options);
            var mask = tensor(new[] { true, false, true, true, false, true });
            var output = layer.Run(randn(6, 4) * 5, mask);
            var selected = output.Routing.SelectedPairs!.to(ScalarType.Int64);
            selected[1].sum().item<long>().Should().Be(0);
            selected[4].sum().item<long>().Should().Be(0);
            output.Statistics!.AssignedPerExpert.Should().Equal(new long[] { 2, 2 }, "C = ceil(1·1·4/2) = 2 of the 4 real tokens");
        }

        [Theory]
        [InlineData(null, "*ExpertChoice*depends on later tokens*Set Causal = false*got null*")]
        [InlineData(true, "*ExpertChoice*leaks the future*got true*")]
        public void ExpertChoiceIsRefusedUnlessTheLayerIsDeclaredNonCausal(bool? causal, string message)
        {
            var options = new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 2, TopK = 1, Router = RouterKind.ExpertChoice, Causal = causal, LoadBalancingLoss = LoadBalancingLossKind.None };
            var act = () => Moe.Create(options);
            act.Should().Throw<ArgumentException>().WithMessage(message);
        }
    }
}
