using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// hunyuan_v1_moe: transformers' HunYuanMoEV1Config defaults (configuration_hunyuan_v1_moe.py @
    /// 6e4054ae4d2748051a0080ccb6eebfbcc0848d88), per-layer lists read as one value, the published fields transformers
    /// ignores refused where they describe other experts, and the schedule (every layer).
    /// </summary>
    public class HunyuanV1MoeConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeHunYuanMoEV1ConfigDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "hunyuan_v1_moe", "num_experts": 16, "moe_topk": 4 }""");

            config.Architecture.Should().Be(HfArchitecture.HunyuanV1Moe);
            config.HiddenSize.Should().Be(4096);
            config.ExpertWidth.Should().Be(11008);
            config.SharedExperts.Should().Be(1);
            config.SharedWidth.Should().Be(11008);
            config.NumLayers.Should().Be(32);
            config.MoeLayerIndices.Should().HaveCount(32);
            var options = config.ToOptions();
            options.ScoreFunction.Should().Be(ScoreFunction.Softmax);
            options.RenormalizeWeights.Should().BeTrue();
            options.SharedExperts.Should().Be(1);
            options.SharedExpertGate.Should().BeFalse();
            options.BalanceBias.Should().BeFalse();
        }

        [Fact]
        public void TheDefaultSingleExpertIsRefusedBecauseItsWeightIsExactlyOne()
        {
            var act = () => HfMoeConfig.Parse("""{ "model_type": "hunyuan_v1_moe" }""");

            act.Should().Throw<InvalidDataException>().WithMessage("*model_type 'hunyuan_v1_moe': 'moe_topk' = 1 with renormalized routing weights*not supported by MoeLayers*");
        }

        [Fact]
        public void PublishedPerLayerListsHoldingOneValueAreRead()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "hunyuan_v1_moe", "num_hidden_layers": 2, "intermediate_size": 3072, "num_experts": [64, 64],
                  "moe_topk": [8, 8], "moe_intermediate_size": [3072, 3072], "num_shared_expert": [1, 1], "use_mixed_mlp_moe": true }
                """);

            config.NumExperts.Should().Be(64);
            config.TopK.Should().Be(8);
            config.DenseReason(1).Should().BeNull("every Hunyuan decoder layer is MoE");
        }

        [Theory]
        [InlineData("""{ "model_type": "hunyuan_v1_moe", "num_hidden_layers": 2, "num_experts": 8, "moe_topk": [2, 4] }""", "*'moe_topk' differs between layers (2, 4)*not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "hunyuan_v1_moe", "num_hidden_layers": 3, "num_experts": 8, "moe_topk": [2, 2] }""", "*'moe_topk' lists 2 values*num_hidden_layers = 3*")]
        [InlineData("""{ "model_type": "hunyuan_v1_moe", "num_experts": 8, "moe_topk": 9 }""", "*'moe_topk' must be in [1, num_experts = 8]; got 9*")]
        [InlineData("""{ "model_type": "hunyuan_v1_moe", "num_experts": 8, "moe_topk": 2, "moe_intermediate_size": 1024 }""", "*'moe_intermediate_size' differs from 'intermediate_size' = 11008*not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "hunyuan_v1_moe", "num_experts": 8, "moe_topk": 2, "num_shared_expert": 2 }""", "*'num_shared_expert' is not 1*")]
        [InlineData("""{ "model_type": "hunyuan_v1_moe", "num_experts": 8, "moe_topk": 2, "use_mixed_mlp_moe": false }""", "*'use_mixed_mlp_moe' is false*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);

            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
