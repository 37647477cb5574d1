using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// kimi_k2: DeepSeek-V3's config rule and defaults under Moonshot's model_type; its published routing fields; the
    /// per-expert layout only.
    /// </summary>
    public class KimiK2ConfigTests
    {
        // The MoE fields of moonshotai/Kimi-K2-Instruct's published config.json.
        private const string Published = """
            { "architectures": ["DeepseekV3ForCausalLM"], "model_type": "kimi_k2", "hidden_size": 7168, "moe_intermediate_size": 2048,
              "n_routed_experts": 384, "n_shared_experts": 1, "num_experts_per_tok": 8, "n_group": 1, "topk_group": 1,
              "routed_scaling_factor": 2.827, "norm_topk_prob": true, "scoring_func": "sigmoid", "topk_method": "noaux_tc",
              "first_k_dense_replace": 1, "moe_layer_freq": 1, "num_hidden_layers": 61, "hidden_act": "silu" }
            """;

        [Fact]
        public void ThePublishedConfigIsDeepseekV3Routing()
        {
            var config = HfMoeConfig.Parse(Published);

            config.Architecture.Should().Be(HfArchitecture.KimiK2);
            config.ModelType.Should().Be("kimi_k2");
            config.NumExperts.Should().Be(384);
            config.ExpertGroups.Should().Be(1);
            config.RoutedScalingFactor.Should().Be(2.827);
            config.MoeLayerIndices.Should().HaveCount(60).And.NotContain(0);
            config.DenseReason(0).Should().Be("first_k_dense_replace = 1 makes layer 0 dense");
            config.ToOptions().Should().BeEquivalentTo(HfMoeConfig.Parse(Published.Replace("\"kimi_k2\"", "\"deepseek_v3\"")).ToOptions());
        }

        [Fact]
        public void AbsentFieldsTakeDeepseekV3Defaults()
        {
            var kimi = HfMoeConfig.Parse("""{ "model_type": "kimi_k2" }""");
            var deepseek = HfMoeConfig.Parse("""{ "model_type": "deepseek_v3" }""");

            kimi.ToOptions().Should().BeEquivalentTo(deepseek.ToOptions());
            kimi.NumExperts.Should().Be(256);
            kimi.ExpertGroups.Should().Be(8);
            kimi.TopKGroups.Should().Be(4);
            kimi.RoutedScalingFactor.Should().Be(2.5);
            kimi.MoeLayerIndices.Should().Equal(deepseek.MoeLayerIndices);
        }

        [Fact]
        public void MoeLayerFreqIsReadAsDeepseeksOwnCodeReadsIt()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "kimi_k2", "num_hidden_layers": 4, "first_k_dense_replace": 1, "moe_layer_freq": 2 }""");

            config.MoeLayerIndices.Should().Equal(2);
            config.DenseReason(3).Should().Be("moe_layer_freq = 2 makes only layers divisible by 2 MoE");
        }

        [Theory]
        [InlineData("""{ "model_type": "kimi_k2", "scoring_func": "softmax" }""", "*'scoring_func' must be 'sigmoid'; got 'softmax'*")]
        [InlineData("""{ "model_type": "kimi_k2", "n_routed_experts": 384, "n_group": 1, "topk_group": 2 }""", "*'topk_group' must be in [1, n_group = 1]; got 2*")]
        [InlineData("""{ "model_type": "kimi_k2", "routed_scaling_factor": 0 }""", "*'routed_scaling_factor' must be a finite number > 0; got 0*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);

            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }

        [Fact]
        public void ThereIsNoFusedKimiLayout()
        {
            var small = HfMoeConfig.Parse("""{ "model_type": "kimi_k2", "hidden_size": 4, "moe_intermediate_size": 2, "n_routed_experts": 4, "n_group": 1, "topk_group": 1, "num_experts_per_tok": 2 }""");
            using var layer = new MoeLayer(small.ToOptions(), "moe");

            var act = () => HfMoeBlock.FromMoeLayers(layer.state_dict(), small, HfExpertLayout.Fused);

            act.Should().Throw<InvalidDataException>().WithMessage("KimiK2 checkpoints have no Fused expert layout; they use PerExpert.");
        }
    }
}
