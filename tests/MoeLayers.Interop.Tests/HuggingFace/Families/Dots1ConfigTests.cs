using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// dots1: transformers' Dots1Config defaults (configuration_dots1.py @ 16a1bdc122229eb06565b56d12f487bdd9604fe5),
    /// the fields it leaves None (required here), null groups, contradictions, and the schedule.
    /// </summary>
    public class Dots1ConfigTests
    {
        private const string Required = """ "n_routed_experts": 128, "n_shared_experts": 2, "num_experts_per_tok": 6 """;

        [Fact]
        public void AbsentFieldsTakeDots1ConfigDefaults()
        {
            var config = HfMoeConfig.Parse($$"""{ "model_type": "dots1", {{Required}} }""");

            config.Architecture.Should().Be(HfArchitecture.Dots1);
            config.HiddenSize.Should().Be(4608);
            config.NumLayers.Should().Be(62);
            config.ExpertWidth.Should().Be(1408);
            config.SharedExperts.Should().Be(2);
            config.SharedWidth.Should().Be(1408);
            config.ExpertGroups.Should().Be(1);
            config.TopKGroups.Should().Be(1);
            config.NormalizeTopK.Should().BeFalse();
            config.RoutedScalingFactor.Should().Be(1.0);
            config.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            config.HasBalanceBias.Should().BeTrue();
            config.MoeLayerIndices.Should().HaveCount(62, "first_k_dense_replace defaults to 0");
        }

        [Fact]
        public void NullGroupsReadAsOneGroup()
        {
            var config = HfMoeConfig.Parse($$"""{ "model_type": "dots1", {{Required}}, "n_group": null, "topk_group": null }""");

            config.ExpertGroups.Should().Be(1);
            config.TopKGroups.Should().Be(1);
        }

        [Fact]
        public void TheScheduleNamesFirstKDenseReplace()
        {
            var config = HfMoeConfig.Parse($$"""{ "model_type": "dots1", {{Required}}, "num_hidden_layers": 4, "first_k_dense_replace": 1 }""");

            config.MoeLayerIndices.Should().Equal(1, 2, 3);
            config.DenseReason(0).Should().Be("first_k_dense_replace = 1 makes layer 0 dense");
        }

        [Theory]
        [InlineData("""{ "model_type": "dots1", "n_shared_experts": 2, "num_experts_per_tok": 6 }""", "*has no 'n_routed_experts', which the MoE block needs*")]
        [InlineData("""{ "model_type": "dots1", "n_routed_experts": 8, "n_shared_experts": 2 }""", "*has no 'num_experts_per_tok', which the MoE block needs*")]
        [InlineData("""{ "model_type": "dots1", "n_routed_experts": 8, "num_experts_per_tok": 2 }""", "*has no 'n_shared_experts', which the MoE block needs*")]
        [InlineData("""{ "model_type": "dots1", "n_routed_experts": 8, "n_shared_experts": 2, "num_experts_per_tok": 9 }""", "*'num_experts_per_tok' must be in [1, n_routed_experts = 8]; got 9*")]
        [InlineData("""{ "model_type": "dots1", "n_routed_experts": 8, "n_shared_experts": 2, "num_experts_per_tok": 2, "topk_method": "greedy" }""", "*'topk_method' must be 'noaux_tc'; got 'greedy'*")]
        public void MissingAndContradictoryFieldsAreRefusedByName(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);

            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
