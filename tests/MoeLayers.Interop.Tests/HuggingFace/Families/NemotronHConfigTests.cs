using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// nemotron_h: transformers' defaults for absent fields (NemotronHConfig in configuration_nemotron_h.py @
    /// 13923c63d59f73faebae79b2ee3fafc7e3a35201), the schedule from hybrid_override_pattern or layers_block_type with each
    /// dense layer's reason naming the field and its entry, DeepSeek-V3's routing with ReLU² ungated experts, and the
    /// refusals (latent MoE, biases, another activation, contradictory or MoE-less schedules).
    /// </summary>
    public class NemotronHConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "nemotron_h" }""");

            config.Architecture.Should().Be(HfArchitecture.NemotronH);
            (config.HiddenSize, config.NumExperts, config.TopK, config.ExpertWidth).Should().Be((4096, 8, 2, 7688));
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((1, 7688, false));
            (config.ExpertGroups, config.TopKGroups, config.NormalizeTopK, config.RoutedScalingFactor).Should().Be((1, 1, true, 1.0));
            config.HasBalanceBias.Should().BeTrue();
            config.Activation.Should().Be(ExpertActivation.ReluSquared);
            config.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            config.NumLayers.Should().Be(4, "NemotronHConfig's default layers_block_type has four entries");
            config.MoeLayerIndices.Should().Equal(1);
            config.DenseReason(2).Should().Be(
                "layers_block_type (absent: NemotronHConfig's default [linear_attention, moe, full_attention, mlp]) makes layer 2 an attention layer");
            config.LayerPrefix(3).Should().Be("backbone.layers.3.");
        }

        [Fact]
        public void TheOptionsAreDeepseekV3RoutingWithReluSquaredExperts()
        {
            var options = HfMoeConfig.Parse("""
                { "model_type": "nemotron_h", "hybrid_override_pattern": "ME", "hidden_size": 32, "n_routed_experts": 16, "num_experts_per_tok": 4,
                  "n_group": 4, "topk_group": 2, "routed_scaling_factor": 2.5, "moe_intermediate_size": 8, "moe_shared_expert_intermediate_size": 24 }
                """).ToOptions();

            (options.InputDim, options.HiddenDim, options.NumExperts, options.TopK).Should().Be((32, 8, 16, 4));
            options.Activation.Should().Be(ExpertActivation.ReluSquared);
            options.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            (options.ExpertGroups, options.TopKGroups, options.GroupScore).Should().Be((4, 2, GroupScore.SumOfTopTwo));
            options.RenormalizeWeights.Should().BeTrue();
            options.RoutedScalingFactor.Should().Be(2.5);
            options.BalanceBias.Should().BeTrue();
            options.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.None);
            (options.SharedExperts, options.SharedHiddenDim, options.SharedExpertGate).Should().Be((1, 24, false));
            options.WeightExpertInputs.Should().BeFalse();
        }

        [Fact]
        public void ThePatternGivesTheScheduleAndEachDenseLayerNamesItsCharacter()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "nemotron_h", "hybrid_override_pattern": "M*E-E", "num_hidden_layers": 5 }""");

            config.MoeLayerIndices.Should().Equal(2, 4);
            config.DenseReason(0).Should().Be("hybrid_override_pattern[0] = 'M' makes layer 0 a Mamba-2 layer");
            config.DenseReason(1).Should().Be("hybrid_override_pattern[1] = '*' makes layer 1 an attention layer");
            config.DenseReason(3).Should().Be("hybrid_override_pattern[3] = '-' makes layer 3 a dense MLP layer");
            config.DenseReason(4).Should().BeNull();
        }

        [Fact]
        public void LayersBlockTypeTakesCurrentAndLegacyNamesAndItsAlias()
        {
            var current = HfMoeConfig.Parse("""{ "model_type": "nemotron_h", "layers_block_type": ["linear_attention", "moe", "full_attention", "mlp", "moe"] }""");
            var legacy = HfMoeConfig.Parse("""{ "model_type": "nemotron_h", "layer_types": ["mamba", "moe", "attention", "mlp", "moe"], "hybrid_override_pattern": "ME*-E" }""");

            current.MoeLayerIndices.Should().Equal(1, 4);
            current.DenseReason(2).Should().Be("layers_block_type[2] = 'full_attention' makes layer 2 an attention layer");
            legacy.MoeLayerIndices.Should().Equal(1, 4);
            legacy.DenseReason(0).Should().Be("layer_types[0] = 'mamba' makes layer 0 a Mamba-2 layer");
        }

        [Theory]
        [InlineData("""{ "model_type": "nemotron_h", "moe_latent_size": 1024 }""", "*'moe_latent_size' = 1024 is not supported by MoeLayers*latent*")]
        [InlineData("""{ "model_type": "nemotron_h", "mlp_bias": true }""", "*'mlp_bias' = true*not supported*")]
        [InlineData("""{ "model_type": "nemotron_h", "mlp_hidden_act": "silu" }""", "*'mlp_hidden_act' must be 'relu2'; got 'silu'*")]
        [InlineData("""{ "model_type": "nemotron_h", "hybrid_override_pattern": "M*X" }""", "*'hybrid_override_pattern'[2] = 'X' is not a Nemotron-H block; expected one of 'M', '*', '-', 'E'*")]
        [InlineData("""{ "model_type": "nemotron_h", "layers_block_type": ["mamba", "moe", "ssm"] }""", "*'layers_block_type'[2] = 'ssm' is not a Nemotron-H block*")]
        [InlineData("""{ "model_type": "nemotron_h", "hybrid_override_pattern": "M*E", "num_hidden_layers": 4 }""", "*'num_hidden_layers' = 4 contradicts 'hybrid_override_pattern' = \"M*E\", which has 3 layers*")]
        [InlineData("""{ "model_type": "nemotron_h", "hybrid_override_pattern": "M*-" }""", "*'hybrid_override_pattern' = \"M*-\" has no MoE layer*no MoE block to load*")]
        [InlineData("""{ "model_type": "nemotron_h", "hybrid_override_pattern": "" }""", "*'hybrid_override_pattern' = \"\" is empty*")]
        [InlineData("""{ "model_type": "nemotron_h", "layers_block_type": ["mamba", "moe"], "hybrid_override_pattern": "EM" }""", "*'hybrid_override_pattern' = \"EM\" contradicts 'layers_block_type' (\"ME\")*")]
        [InlineData("""{ "model_type": "nemotron_h", "n_routed_experts": 6, "n_group": 4 }""", "*'n_group' = 4 must divide 'n_routed_experts' = 6*")]
        [InlineData("""{ "model_type": "nemotron_h", "n_routed_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, n_routed_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "nemotron_h", "num_local_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, num_local_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "nemotron_h", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*")]
        [InlineData("""{ "model_type": "nemotron_h", "routed_scaling_factor": 0 }""", "*'routed_scaling_factor' must be a finite number > 0; got 0*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
