using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// minimax_m2: transformers' MiniMaxM2Config defaults (modular_minimax_m2.py @ ea9df1d3bd9784aa7e6abd8f4be29551dd58d6d8),
    /// the routing it fixes (sigmoid + bias, always renormalized, no groups or scaling), the published fields it does
    /// not read but which must agree with it, and the schedule (every layer).
    /// </summary>
    public class MiniMaxM2ConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeMiniMaxM2ConfigDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "minimax_m2" }""");

            config.Architecture.Should().Be(HfArchitecture.MiniMaxM2);
            config.HiddenSize.Should().Be(3072);
            config.ExpertWidth.Should().Be(1536);
            config.NumLayers.Should().Be(62);
            config.NumExperts.Should().Be(256);
            config.TopK.Should().Be(8);
            config.AuxiliaryLossCoefficient.Should().Be(0.001);
            config.MoeLayerIndices.Should().HaveCount(62);
            var options = config.ToOptions();
            options.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            options.BalanceBias.Should().BeTrue();
            options.RenormalizeWeights.Should().BeTrue();
            options.ExpertGroups.Should().Be(1);
            options.RoutedScalingFactor.Should().Be(1.0);
            options.SharedExperts.Should().Be(0);
        }

        [Fact]
        public void NumExpertsIsAnAliasOfNumLocalExperts()
        {
            HfMoeConfig.Parse("""{ "model_type": "minimax_m2", "num_experts": 32 }""").NumExperts.Should().Be(32);
        }

        [Fact]
        public void ThePublishedRoutingFieldsAreAccepted()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "minimax_m2", "scoring_func": "sigmoid", "use_routing_bias": true, "shared_intermediate_size": 0 }""");

            config.HasBalanceBias.Should().BeTrue();
            config.DenseReason(0).Should().BeNull("every MiniMax-M2 decoder layer is MoE");
        }

        [Theory]
        [InlineData("""{ "model_type": "minimax_m2", "scoring_func": "softmax" }""", "*'scoring_func' must be 'sigmoid'; got 'softmax'*")]
        [InlineData("""{ "model_type": "minimax_m2", "use_routing_bias": false }""", "*model_type 'minimax_m2': 'use_routing_bias' = false is not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "minimax_m2", "shared_intermediate_size": 1024 }""", "*'shared_intermediate_size' > 0 is not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "minimax_m2", "num_local_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, num_local_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "minimax_m2", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*")]
        [InlineData("""{ "model_type": "minimax_m2", "hidden_act": "gelu" }""", "*'hidden_act' must be 'silu'; got 'gelu'*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);

            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
