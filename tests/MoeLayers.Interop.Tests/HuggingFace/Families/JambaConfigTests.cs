using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// Jamba's config.json: transformers' defaults for absent fields (configuration_jamba.py @
    /// 161d2bed0075063d3c6f605e370b87bd097ff2b4), the expert_layer_period / expert_layer_offset schedule, no
    /// renormalization, and contradictions refused naming the field.
    /// </summary>
    public class JambaConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "jamba" }""");

            config.Architecture.Should().Be(HfArchitecture.Jamba);
            config.HiddenSize.Should().Be(4096);
            config.ExpertWidth.Should().Be(14336);
            config.NumLayers.Should().Be(32);
            config.NumExperts.Should().Be(16);
            config.TopK.Should().Be(2);
            config.NormalizeTopK.Should().BeFalse("JambaSparseMoeBlock weights by the k softmax probabilities as they are");
            config.AuxiliaryLossCoefficient.Should().Be(0.001);
            config.SharedExperts.Should().Be(0);
            config.MoeLayerIndices.Should().Equal(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            config.LayerPrefix(3).Should().Be("model.layers.3.");
            var options = config.ToOptions();
            options.RenormalizeWeights.Should().BeFalse();
            options.ScoreFunction.Should().Be(ScoreFunction.Softmax);
            options.Activation.Should().Be(ExpertActivation.SwiGlu);
        }

        [Fact]
        public void TheScheduleFollowsPeriodAndOffsetAndNamesThemForDenseLayers()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "jamba", "num_hidden_layers": 7, "expert_layer_period": 3, "expert_layer_offset": 2 }""");

            config.MoeLayerIndices.Should().Equal(2, 5);
            config.DenseReason(2).Should().BeNull();
            config.DenseReason(0).Should().Be("expert_layer_period = 3 and expert_layer_offset = 2 make only layers i with i % 3 == 2 MoE");
            config.DenseReason(6).Should().Contain("expert_layer_period = 3");
        }

        [Fact]
        public void APeriodOfOneMakesEveryLayerMoe()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "jamba", "num_hidden_layers": 3, "expert_layer_period": 1, "expert_layer_offset": 0 }""");

            config.MoeLayerIndices.Should().Equal(0, 1, 2);
        }

        [Theory]
        [InlineData("""{ "model_type": "jamba", "expert_layer_period": 2, "expert_layer_offset": 2 }""", "*'expert_layer_offset' must be in [0, expert_layer_period = 2)*; got 2*")]
        [InlineData("""{ "model_type": "jamba", "expert_layer_period": 0 }""", "*'expert_layer_period' must be at least 1; got 0*")]
        [InlineData("""{ "model_type": "jamba", "num_experts": 1 }""", "*'num_experts' = 1 makes every Jamba layer a dense JambaMLP*")]
        [InlineData("""{ "model_type": "jamba", "num_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, num_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "jamba", "hidden_act": "gelu" }""", "*'hidden_act' must be 'silu'; got 'gelu'*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
