using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// llama4 / llama4_text: transformers' defaults for absent fields (Llama4TextConfig in configuration_llama4.py @
    /// 008e574391258935f3ecc3035c882e73bbcac419; Llama4Config builds a default text config when text_config is absent), the
    /// text model read from text_config, the two layer prefixes, the moe_layers / interleave_moe_layer_step schedule, the
    /// routing rule (sigmoid of the chosen logits on the expert inputs, not renormalized) and the refusals.
    /// </summary>
    public class Llama4ConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "llama4" }""");

            config.Architecture.Should().Be(HfArchitecture.Llama4);
            config.ModelType.Should().Be("llama4_text");
            (config.HiddenSize, config.NumLayers, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((5120, 48, 8192, 16, 1));
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((1, 8192, false));
            config.AuxiliaryLossCoefficient.Should().Be(0.001);
            config.MoeLayerIndices.Should().HaveCount(48, "interleave_moe_layer_step 1 makes every layer MoE");
            config.LayerPrefix(47).Should().Be("language_model.model.layers.47.");
        }

        [Fact]
        public void TheRuleIsSigmoidOfTheChosenLogitOnTheExpertInput()
        {
            var options = HfMoeConfig.Parse("""{ "model_type": "llama4", "text_config": { "num_experts_per_tok": 2 } }""").ToOptions();

            options.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            options.TopKOrder.Should().Be(TopKOrder.SoftmaxThenTopK, "sigmoid is increasing, so the top k of the scores are the top k of the logits");
            options.WeightExpertInputs.Should().BeTrue("Llama4TextMoe scales the routed input by the router score");
            options.RenormalizeWeights.Should().BeFalse();
            options.RoutedScalingFactor.Should().Be(1.0);
            options.BalanceBias.Should().BeFalse();
            options.Activation.Should().Be(ExpertActivation.SwiGlu);
            (options.SharedExperts, options.SharedHiddenDim, options.SharedExpertGate).Should().Be((1, 8192, false));
            options.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.Switch);
        }

        [Fact]
        public void TheTextModelIsReadFromTextConfigNotTheRoot()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "llama4", "hidden_size": 7, "num_local_experts": 3,
                  "text_config": { "model_type": "llama4_text", "hidden_size": 64, "intermediate_size": 32, "num_local_experts": 4, "num_hidden_layers": 2 } }
                """);

            (config.HiddenSize, config.ExpertWidth, config.SharedWidth, config.NumExperts, config.NumLayers).Should().Be((64, 32, 32, 4, 2));
        }

        [Fact]
        public void TheTextModelSavedAloneLivesUnderModelLayers()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "llama4_text", "num_hidden_layers": 4, "interleave_moe_layer_step": 2 }""");

            config.Architecture.Should().Be(HfArchitecture.Llama4Text);
            config.ModelType.Should().Be("llama4_text");
            config.LayerPrefix(3).Should().Be("model.layers.3.");
            config.MoeLayerIndices.Should().Equal(1, 3);
            config.ToOptions().WeightExpertInputs.Should().BeTrue();
        }

        [Fact]
        public void TheInterleaveStepMakesEveryStepthLayerMoeAndNamesItself()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "llama4", "text_config": { "num_hidden_layers": 6, "interleave_moe_layer_step": 3 } }""");

            config.MoeLayerIndices.Should().Equal(2, 5);
            config.DenseReason(2).Should().BeNull();
            config.DenseReason(0).Should().Be("text_config.interleave_moe_layer_step = 3 makes only layers i with (i + 1) % 3 == 0 MoE");
        }

        [Fact]
        public void MoeLayersOverridesTheInterleaveStep()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "llama4", "text_config": { "num_hidden_layers": 4, "interleave_moe_layer_step": 1, "moe_layers": [0, 3] } }
                """);

            config.MoeLayerIndices.Should().Equal(0, 3);
            config.DenseReason(1).Should().Be("text_config.moe_layers does not list layer 1 (a dense Llama4TextMLP of width text_config.intermediate_size_mlp)");
        }

        [Fact]
        public void ANullMoeLayersFallsBackToTheStep()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "llama4_text", "num_hidden_layers": 4, "interleave_moe_layer_step": 2, "moe_layers": null }""");

            config.MoeLayerIndices.Should().Equal(1, 3);
        }

        [Theory]
        [InlineData("""{ "model_type": "llama4", "text_config": { "num_local_experts": 4, "num_experts_per_tok": 5 } }""", "*'text_config.num_experts_per_tok' must be in [1, text_config.num_local_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "llama4", "text_config": { "num_experts_per_tok": 0 } }""", "*'text_config.num_experts_per_tok' must be in [1, text_config.num_local_experts = 16]; got 0*")]
        [InlineData("""{ "model_type": "llama4", "text_config": { "num_hidden_layers": 4, "moe_layers": [1, 4] } }""", "*'text_config.moe_layers' lists layer 4, outside [0, text_config.num_hidden_layers = 4)*")]
        [InlineData("""{ "model_type": "llama4", "text_config": { "moe_layers": [] } }""", "*'text_config.moe_layers' = [] leaves no MoE layer*")]
        [InlineData("""{ "model_type": "llama4_text", "num_hidden_layers": 2, "interleave_moe_layer_step": 3 }""", "*'interleave_moe_layer_step' = 3 with 'num_hidden_layers' = 2 leaves no MoE layer*")]
        [InlineData("""{ "model_type": "llama4_text", "interleave_moe_layer_step": 0 }""", "*'interleave_moe_layer_step' must be at least 1; got 0*")]
        [InlineData("""{ "model_type": "llama4", "text_config": { "hidden_act": "gelu" } }""", "*'text_config.hidden_act' must be 'silu'; got 'gelu'*")]
        [InlineData("""{ "model_type": "llama4", "text_config": { "model_type": "llama4_vision_model" } }""", "*'text_config.model_type' must be 'llama4_text'; got 'llama4_vision_model'*")]
        [InlineData("""{ "model_type": "llama4", "text_config": 3 }""", "*'text_config' must be a JSON object*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
