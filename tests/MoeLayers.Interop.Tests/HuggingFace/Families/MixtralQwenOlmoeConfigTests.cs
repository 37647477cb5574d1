using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// mixtral, qwen2_moe, qwen3_moe and olmoe: transformers' defaults for absent fields (configuration_*.py @
    /// 008e574391258935f3ecc3035c882e73bbcac419), Qwen's decoder_sparse_step / mlp_only_layers schedule, the aliases
    /// transformers maps, and contradictions refused by field.
    /// </summary>
    public class MixtralQwenOlmoeConfigTests
    {
        [Theory]
        [InlineData("mixtral", 4096, 14336, 8, 2, true, 32, 0.001)]
        [InlineData("qwen2_moe", 2048, 1408, 60, 4, false, 24, 0.001)]
        [InlineData("qwen3_moe", 2048, 768, 128, 8, false, 24, 0.001)]
        [InlineData("olmoe", 2048, 2048, 64, 8, false, 16, 0.01)]
        public void AbsentFieldsTakeTransformersDefaults(string type, int hidden, int width, int experts, int topK, bool normalize, int layers, double aux)
        {
            var config = HfMoeConfig.Parse($$"""{ "model_type": "{{type}}" }""");

            (config.HiddenSize, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((hidden, width, experts, topK));
            config.NormalizeTopK.Should().Be(normalize);
            config.NumLayers.Should().Be(layers);
            config.AuxiliaryLossCoefficient.Should().Be(aux);
            config.MoeLayerIndices.Should().HaveCount(layers, "every layer is MoE by default");
        }

        [Fact]
        public void Qwen2MoeAlwaysHasItsGatedSharedExpert()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "qwen2_moe" }""");
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((1, 5632, true));
        }

        [Fact]
        public void QwenSchedulesFollowTheDecoderLayerRule()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "qwen3_moe", "num_hidden_layers": 6, "decoder_sparse_step": 2, "mlp_only_layers": [3] }""");

            config.MoeLayerIndices.Should().Equal(1, 5);
            config.DenseReason(3).Should().Be("mlp_only_layers lists layer 3");
            config.DenseReason(2).Should().Be("decoder_sparse_step = 2 makes only layers i with (i + 1) % 2 == 0 MoE");
        }

        [Fact]
        public void NumLocalExpertsIsAnAliasOfNumExperts()
        {
            HfMoeConfig.Parse("""{ "model_type": "olmoe", "num_local_experts": 16 }""").NumExperts.Should().Be(16);
            HfMoeConfig.Parse("""{ "model_type": "qwen3_moe", "num_local_experts": 32 }""").NumExperts.Should().Be(32);
        }

        [Theory]
        [InlineData("""{ "model_type": "mixtral", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*")]
        [InlineData("""{ "model_type": "qwen3_moe", "num_experts_per_tok": 1, "norm_topk_prob": true }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*")]
        [InlineData("""{ "model_type": "olmoe", "router_aux_loss_coef": -0.1 }""", "*'router_aux_loss_coef' must be a finite number ≥ 0; got -0.1*")]
        [InlineData("""{ "model_type": "qwen2_moe", "shared_expert_intermediate_size": 0 }""", "*'shared_expert_intermediate_size' must be at least 1; got 0*")]
        [InlineData("""{ "model_type": "mixtral", "hidden_size": 0 }""", "*'hidden_size' must be at least 1; got 0*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
