using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// glm4_moe: transformers' Glm4MoeConfig defaults (configuration_glm4_moe.py @ c7ec229ad64cdcf0176f669969c66c9a652e7f38)
    /// for absent fields, the DeepseekV3MoE rule's contradictions, and the first_k_dense_replace schedule.
    /// </summary>
    public class Glm4MoeConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeGlm4MoeConfigDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "glm4_moe" }""");

            config.Architecture.Should().Be(HfArchitecture.Glm4Moe);
            config.ModelType.Should().Be("glm4_moe");
            config.HiddenSize.Should().Be(4096);
            config.NumLayers.Should().Be(46);
            config.ExpertWidth.Should().Be(1408);
            config.NumExperts.Should().Be(128);
            config.TopK.Should().Be(8);
            config.SharedExperts.Should().Be(1);
            config.SharedWidth.Should().Be(1408);
            config.ExpertGroups.Should().Be(1);
            config.TopKGroups.Should().Be(1);
            config.RoutedScalingFactor.Should().Be(1.0);
            config.NormalizeTopK.Should().BeTrue();
            config.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            config.HasBalanceBias.Should().BeTrue();
            config.MoeLayerIndices.Should().HaveCount(45).And.NotContain(0);
            var options = config.ToOptions();
            options.BalanceBias.Should().BeTrue();
            options.RenormalizeWeights.Should().BeTrue();
            options.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.None);
        }

        [Fact]
        public void FirstKDenseReplaceMakesTheFirstLayersDenseAndSaysSo()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "glm4_moe", "num_hidden_layers": 5, "first_k_dense_replace": 3, "moe_layer_freq": 2 }""");

            config.MoeLayerIndices.Should().Equal(3, 4); // moe_layer_freq is not read by Glm4MoeDecoderLayer
            config.DenseReason(2).Should().Be("first_k_dense_replace = 3 makes layers 0–2 dense");
            config.DenseReason(3).Should().BeNull();
        }

        [Theory]
        [InlineData("""{ "model_type": "glm4_moe", "n_routed_experts": 10, "n_group": 4 }""", "*'n_group' = 4 must divide 'n_routed_experts' = 10*")]
        [InlineData("""{ "model_type": "glm4_moe", "n_group": 2, "topk_group": 3 }""", "*'topk_group' must be in [1, n_group = 2]; got 3*")]
        [InlineData("""{ "model_type": "glm4_moe", "n_routed_experts": 8, "n_group": 4, "topk_group": 1, "num_experts_per_tok": 3 }""", "*'num_experts_per_tok' = 3 is more than the 2 experts that 'topk_group' = 1 groups of 2 leave*")]
        [InlineData("""{ "model_type": "glm4_moe", "scoring_func": "softmax" }""", "*'scoring_func' must be 'sigmoid'; got 'softmax'*")]
        [InlineData("""{ "model_type": "glm4_moe", "num_experts_per_tok": 1 }""", "*model_type 'glm4_moe': 'num_experts_per_tok' = 1 with renormalized routing weights*not supported by MoeLayers*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);

            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }

        [Fact]
        public void OneExpertWithoutRenormalizationIsComputable()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "glm4_moe", "num_experts_per_tok": 1, "norm_topk_prob": false }""");

            config.TopK.Should().Be(1);
            config.ToOptions().RenormalizeWeights.Should().BeFalse();
        }
    }
}
