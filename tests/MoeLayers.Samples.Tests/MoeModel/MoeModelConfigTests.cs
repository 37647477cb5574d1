using System;
using System.IO;
using System.Text.Json.Nodes;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>config.json → <see cref="MoeModelConfig"/>: each family's fields and defaults, and errors naming the field.</summary>
    public sealed class MoeModelConfigTests
    {
        private static JsonObject Fixture(string name) =>
            JsonNode.Parse(File.ReadAllText(Path.Combine(MoeModelFixtures.Folder(name), "config.json")))!.AsObject();

        private static MoeModelConfig Parse(JsonObject json) => MoeModelConfig.Parse(json.ToJsonString(), "test/config.json");

        [Fact]
        public void ReadsEachFamilysAttentionVariant()
        {
            var qwen = MoeModelConfig.Read(MoeModelFixtures.Folder("qwen3_moe"));
            (qwen.Family, qwen.QkNorm, qwen.HeadDim, qwen.QkvBias, qwen.IntermediateSize, qwen.RmsNormEps).Should().Be((MoeModelFamily.Qwen3Moe, QkNorm.PerHead, 16, false, 64, 1e-6));
            qwen.IsMoeLayer(0).Should().BeFalse("mlp_only_layers = [0]");
            qwen.EosTokenIds.Should().Equal(498);
            qwen.BosTokenId.Should().Be(496);

            var olmoe = MoeModelConfig.Read(MoeModelFixtures.Folder("olmoe"));
            (olmoe.QkNorm, olmoe.HeadDim, olmoe.ClipQkv, olmoe.BosTokenId, olmoe.PadTokenId).Should().Be((QkNorm.WholeProjection, 8, (double?)null, (int?)null, (int?)497));

            var mixtral = MoeModelConfig.Read(MoeModelFixtures.Folder("mixtral"));
            (mixtral.MoeBlockName, mixtral.TieWordEmbeddings, mixtral.Rope.Theta).Should().Be(("block_sparse_moe", true, 1e6));
            mixtral.SlidingWindows.Should().Equal(new int?[] { null, null });

            var gptOss = MoeModelConfig.Read(MoeModelFixtures.Folder("gpt_oss"));
            (gptOss.AttentionSinks, gptOss.QkvBias, gptOss.OutputBias, gptOss.NormWeightInFloat32).Should().Be((true, true, true, true));
            gptOss.SlidingWindows.Should().Equal(8, null);
            gptOss.Rope.Yarn.Should().Be(new YarnScaling(32.0, 4096, 32.0, 1.0, false, 0.1 * Math.Log(32.0) + 1.0));

            var glm = MoeModelConfig.Read(MoeModelFixtures.Folder("glm4_moe"));
            (glm.QkNorm, glm.QkvBias, glm.OutputBias, glm.Rope.RotaryDim).Should().Be((QkNorm.PerHead, true, false, 8));
            glm.EosTokenIds.Should().Equal(496, 503, 505);
        }

        [Fact]
        public void AppliesTheFamilyDefaultsOfAbsentFields()
        {
            var json = Fixture("gpt_oss");
            json.Remove("layer_types");
            json.Remove("sliding_window");
            json.Remove("rope_scaling");
            json.Remove("attention_bias");
            var config = Parse(json);
            config.SlidingWindows.Should().Equal(128, null);
            config.Rope.Yarn!.Factor.Should().Be(32.0);
            config.QkvBias.Should().BeTrue();

            var glm = Fixture("glm4_moe");
            glm.Remove("partial_rotary_factor");
            glm.Remove("use_qk_norm");
            var glmConfig = Parse(glm);
            glmConfig.Rope.RotaryDim.Should().Be(8, "partial_rotary_factor defaults to 0.5");
            glmConfig.QkNorm.Should().Be(QkNorm.None);
        }

        [Theory]
        [InlineData("qwen3_moe", "hidden_size", "\"wide\"", "*'hidden_size' must be an integer; got \"wide\"*")]
        [InlineData("olmoe", "num_key_value_heads", "3", "*'num_key_value_heads' = 3 must divide 'num_attention_heads' = 4*")]
        [InlineData("mixtral", "vocab_size", "null", "*'vocab_size' is missing*")]
        [InlineData("gpt_oss", "layer_types", "[\"sliding_attention\"]", "*'layer_types' has 1 entries; 'num_hidden_layers' is 2*")]
        [InlineData("gpt_oss", "layer_types", "[\"sliding_attention\", \"chunked_attention\"]", "*'layer_types[1]' = \"chunked_attention\" is not supported*")]
        [InlineData("glm4_moe", "partial_rotary_factor", "0.01", "*'head_dim' · 'partial_rotary_factor'*even number*")]
        [InlineData("qwen3_moe", "rope_scaling", "{\"rope_type\": \"longrope\"}", "*'rope_scaling.rope_type' = \"longrope\" is not supported*")]
        [InlineData("gpt_oss", "rope_scaling", "{\"rope_type\": \"yarn\"}", "*'rope_scaling.factor' is missing*")]
        [InlineData("qwen3_moe", "use_sliding_window", "true", "*'use_sliding_window' = true is not supported*")]
        [InlineData("olmoe", "rms_norm_eps", "-1", "*'rms_norm_eps' must be positive*")]
        [InlineData("mixtral", "attention_bias", "true", "*'attention_bias' = true is not supported*")]
        public void ErrorsNameTheField(string name, string field, string value, string message)
        {
            var json = Fixture(name);
            json[field] = JsonNode.Parse(value);
            FluentActions.Invoking(() => Parse(json)).Should().Throw<InvalidDataException>().WithMessage("test/config.json: " + message.TrimStart('*'));
        }

        [Fact]
        public void AnUnsupportedModelTypeIsRefusedByName()
        {
            var json = Fixture("qwen3_moe");
            json["model_type"] = "qwen2_moe";
            FluentActions.Invoking(() => Parse(json)).Should().Throw<InvalidDataException>()
                .WithMessage("*'model_type' = \"qwen2_moe\" is not supported; the MoeModel decoder runs qwen3_moe, olmoe, mixtral, gpt_oss, glm4_moe*");
        }

        [Fact]
        public void TheMoeBlocksOwnErrorsComeFromMoeLayersInterop()
        {
            var json = Fixture("qwen3_moe");
            json["num_experts_per_tok"] = 9;
            FluentActions.Invoking(() => Parse(json)).Should().Throw<InvalidDataException>().WithMessage("*num_experts_per_tok*");
        }
    }
}
