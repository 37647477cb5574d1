using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// deepseek_v3: transformers' defaults (configuration_deepseek_v3.py @ 001f85b38fb432858ace93f18622f07cec46d874),
    /// the first_k_dense_replace schedule, the fixed noaux_tc rule and contradictions refused by field.
    /// </summary>
    public class DeepseekV3ConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "deepseek_v3" }""");

            (config.HiddenSize, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((7168, 2048, 256, 8));
            (config.ExpertGroups, config.TopKGroups, config.SharedExperts, config.SharedWidth).Should().Be((8, 4, 1, 2048));
            config.NormalizeTopK.Should().BeTrue();
            config.RoutedScalingFactor.Should().Be(2.5);
            config.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            config.HasBalanceBias.Should().BeTrue();
            config.NumLayers.Should().Be(61);
            config.MoeLayerIndices.Should().HaveCount(58).And.NotContain(new[] { 0, 1, 2 });
            config.DenseReason(2).Should().Be("first_k_dense_replace = 3 makes layers 0–2 dense");
            config.IsMoeLayer(3).Should().BeTrue();
        }

        [Theory]
        [InlineData("""{ "model_type": "deepseek_v3", "scoring_func": "softmax" }""", "*'scoring_func' must be 'sigmoid'; got 'softmax'*")]
        [InlineData("""{ "model_type": "deepseek_v3", "n_routed_experts": 16, "n_group": 4, "topk_group": 1, "num_experts_per_tok": 5 }""",
            "*'num_experts_per_tok' = 5 is more than the 4 experts that 'topk_group' = 1 groups of 4 leave*")]
        [InlineData("""{ "model_type": "deepseek_v3", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*")]
        [InlineData("""{ "model_type": "deepseek_v3", "first_k_dense_replace": -1 }""", "*'first_k_dense_replace' must be at least 0; got -1*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
