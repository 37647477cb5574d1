using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// qwen3_5_moe: the text model's fields under text_config with transformers' defaults (Qwen3_5MoeTextConfig in
    /// modular_qwen3_5_moe.py @ 0960594cbcb31be634ec36a76818155c591aafb4, inheriting Qwen3NextConfig's), the
    /// model.language_model.layers prefix, every layer MoE, always renormalized, and the refusals.
    /// </summary>
    public class Qwen35MoeConfigTests
    {
        [Fact]
        public void TextConfigFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "qwen3_5_moe", "text_config": { "model_type": "qwen3_5_moe_text" } }""");

            config.Architecture.Should().Be(HfArchitecture.Qwen35Moe);
            config.ModelType.Should().Be("qwen3_5_moe_text");
            (config.HiddenSize, config.NumLayers, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((2048, 40, 512, 256, 8));
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((1, 512, true));
            config.NormalizeTopK.Should().BeTrue();
            config.LayerPrefix(39).Should().Be("model.language_model.layers.39.");
        }

        [Fact]
        public void EveryLayerIsMoeAndTheDeletedFieldsAreNotRead()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "qwen3_5_moe", "hidden_size": 64,
                  "text_config": { "num_hidden_layers": 3, "decoder_sparse_step": 2, "mlp_only_layers": [0], "norm_topk_prob": false } }
                """);

            config.MoeLayerIndices.Should().Equal(0, 1, 2);
            config.DenseReason(0).Should().BeNull();
            config.NormalizeTopK.Should().BeTrue("Qwen3VLMoeTextTopKRouter renormalizes whatever norm_topk_prob says");
            config.HiddenSize.Should().Be(2048, "the root's hidden_size is not the text model's");
        }

        [Theory]
        [InlineData("""{ "model_type": "qwen3_5_moe" }""", "*keeps its text model's fields under 'text_config'*")]
        [InlineData("""{ "model_type": "qwen3_5_moe", "text_config": { "model_type": "qwen3_next" } }""", "*'text_config.model_type' must be 'qwen3_5_moe_text'; got 'qwen3_next'*")]
        [InlineData("""{ "model_type": "qwen3_5_moe", "text_config": { "num_experts": 4, "num_experts_per_tok": 8 } }""", "*'text_config.num_experts_per_tok' must be in [1, text_config.num_experts = 4]; got 8*")]
        [InlineData("""{ "model_type": "qwen3_5_moe", "text_config": { "num_experts_per_tok": 1 } }""", "*'text_config.num_experts_per_tok' = 1 with renormalized routing weights*")]
        [InlineData("""{ "model_type": "qwen3_5_moe", "text_config": [] }""", "*'text_config' must be a JSON object*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
