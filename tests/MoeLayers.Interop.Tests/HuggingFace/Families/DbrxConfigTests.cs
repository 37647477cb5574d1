using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// DBRX's config.json: fields nested under ffn_config with transformers' defaults (configuration_dbrx.py @
    /// 23966c3f60ed43863fde91f2fadcc95c178216e1), the p-norm renormalization mapped only where it equals the core's
    /// (p = 1, k ≥ 2), the transformer.blocks.{i}. prefix, and refusals naming the field.
    /// </summary>
    public class DbrxConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            // The defaults alone (moe_top_k 1 with p = 1) are refused (see below); k is the one field set here.
            var config = HfMoeConfig.Parse("""{ "model_type": "dbrx", "ffn_config": { "moe_top_k": 2 } }""");

            config.Architecture.Should().Be(HfArchitecture.Dbrx);
            config.HiddenSize.Should().Be(2048);
            config.NumLayers.Should().Be(24);
            config.ExpertWidth.Should().Be(3584);
            config.NumExperts.Should().Be(4);
            config.TopK.Should().Be(2);
            config.NormalizeTopK.Should().BeTrue("moe_normalize_expert_weights defaults to 1: divide by the sum");
            config.AuxiliaryLossCoefficient.Should().Be(0.01, "moe_loss_weight's default");
            config.MoeLayerIndices.Should().HaveCount(24);
            config.DenseReason(0).Should().BeNull();
            config.LayerPrefix(5).Should().Be("transformer.blocks.5.");
            config.ToOptions().RenormalizeWeights.Should().BeTrue();
        }

        [Fact]
        public void APublishedConfigReadsItsNestedFields()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "dbrx", "d_model": 6144, "n_layers": 40,
                  "ffn_config": { "ffn_act_fn": { "name": "silu" }, "ffn_hidden_size": 10752, "moe_num_experts": 16, "moe_top_k": 4,
                                  "moe_jitter_eps": 0.01, "moe_loss_weight": 0.05, "moe_normalize_expert_weights": 1, "model_type": "" } }
                """);

            (config.HiddenSize, config.NumLayers, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((6144, 40, 10752, 16, 4));
            config.NormalizeTopK.Should().BeTrue();
            config.AuxiliaryLossCoefficient.Should().Be(0.05);
        }

        [Fact]
        public void NullNormalizationKeepsTheSoftmaxProbabilitiesEvenForOneExpert()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "dbrx", "ffn_config": { "moe_normalize_expert_weights": null } }""");

            config.TopK.Should().Be(1);
            config.NormalizeTopK.Should().BeFalse();
            config.ToOptions().RenormalizeWeights.Should().BeFalse();
        }

        [Fact]
        public void TheAliasesHiddenSizeAndNumHiddenLayersAreRead()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "dbrx", "hidden_size": 64, "num_hidden_layers": 3, "ffn_config": { "moe_top_k": 2 } }""");

            (config.HiddenSize, config.NumLayers).Should().Be((64, 3));
        }

        [Theory]
        [InlineData("""{ "model_type": "dbrx" }""", "*'ffn_config.moe_top_k' = 1 with 'ffn_config.moe_normalize_expert_weights' = 1 makes every routing weight exactly 1*not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "dbrx", "ffn_config": { "moe_top_k": 2, "moe_normalize_expert_weights": 2 } }""", "*'ffn_config.moe_normalize_expert_weights' = 2 divides the top-k weights by their p-norm with p ≠ 1*not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "dbrx", "ffn_config": { "moe_num_experts": 4, "moe_top_k": 5 } }""", "*'ffn_config.moe_top_k' must be in [1, ffn_config.moe_num_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "dbrx", "ffn_config": { "moe_top_k": 2, "ffn_act_fn": { "name": "gelu" } } }""", "*'ffn_config.ffn_act_fn.name' must be 'silu'; got 'gelu'*")]
        [InlineData("""{ "model_type": "dbrx", "ffn_config": { "moe_top_k": 2, "ffn_hidden_size": 0 } }""", "*'ffn_config.ffn_hidden_size' must be at least 1; got 0*")]
        [InlineData("""{ "model_type": "dbrx", "ffn_config": 3 }""", "*'ffn_config' must be a JSON object; got 3*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
