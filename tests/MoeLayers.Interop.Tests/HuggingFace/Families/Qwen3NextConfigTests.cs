using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// qwen3_next: transformers' defaults (configuration_qwen3_next.py @ 008e574391258935f3ecc3035c882e73bbcac419), the
    /// refusals, and the Qwen schedule (decoder_sparse_step, mlp_only_layers) whatever the layer_types.
    /// </summary>
    public class Qwen3NextConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "qwen3_next" }""");

            config.Architecture.Should().Be(HfArchitecture.Qwen3Next);
            (config.HiddenSize, config.NumLayers, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((2048, 48, 512, 512, 10));
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((1, 512, true));
            config.NormalizeTopK.Should().BeTrue();
            config.AuxiliaryLossCoefficient.Should().Be(0.001);
            config.MoeLayerIndices.Should().HaveCount(48, "decoder_sparse_step 1 and no mlp_only_layers make every layer MoE");
            var options = config.ToOptions();
            (options.RenormalizeWeights, options.SharedHiddenDim, options.SharedExpertGate).Should().Be((true, 512, true));
        }

        [Fact]
        public void TheScheduleIgnoresTheTokenMixerAndNamesItsField()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "qwen3_next", "num_hidden_layers": 4, "decoder_sparse_step": 2, "mlp_only_layers": [3],
                  "layer_types": ["linear_attention", "full_attention", "linear_attention", "full_attention"] }
                """);

            config.MoeLayerIndices.Should().Equal(1);
            config.DenseReason(0).Should().Be("decoder_sparse_step = 2 makes only layers i with (i + 1) % 2 == 0 MoE");
            config.DenseReason(3).Should().Be("mlp_only_layers lists layer 3");
        }

        [Theory]
        [InlineData("""{ "model_type": "qwen3_next", "num_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, num_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "qwen3_next", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*exactly 1*")]
        [InlineData("""{ "model_type": "qwen3_next", "hidden_act": "gelu" }""", "*'hidden_act' must be 'silu'; got 'gelu'*")]
        [InlineData("""{ "model_type": "qwen3_next", "decoder_sparse_step": 0 }""", "*'decoder_sparse_step' must be at least 1; got 0*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }

        [Fact]
        public void OneExpertPerTokenIsReadWhenNotRenormalized()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "qwen3_next", "num_experts_per_tok": 1, "norm_topk_prob": false }""");
            (config.TopK, config.ToOptions().RenormalizeWeights).Should().Be((1, false));
        }
    }
}
