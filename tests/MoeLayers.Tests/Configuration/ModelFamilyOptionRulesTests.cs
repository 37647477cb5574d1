using System;
using System.IO;
using System.Text;
using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MoeLayers.Tests.Configuration
{
    /// <summary>The validator's rules for RouterBias, SwiGluAlpha, SwiGluLimit and WeightExpertInputs: each names the field, the range and the value.</summary>
    public class ModelFamilyOptionRulesTests
    {
        private static MoeLayerOptions GptOss() => new()
        {
            InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 2, TopKOrder = TopKOrder.TopKThenSoftmax, RouterBias = true,
            Activation = ExpertActivation.ClampedSwiGlu, ExpertBias = true,
        };

        [Fact]
        public void TheGptOssAndLlama4OptionsAreValid()
        {
            MoeLayerOptionsValidator.Failures(GptOss()).Should().BeEmpty();
            var llama4 = new MoeLayerOptions
            {
                InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 1, ScoreFunction = ScoreFunction.Sigmoid, Activation = ExpertActivation.SwiGlu,
                SharedExperts = 1, WeightExpertInputs = true,
            };
            MoeLayerOptionsValidator.Failures(llama4).Should().BeEmpty();
            var nemotron = new MoeLayerOptions { InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 2, Activation = ExpertActivation.ReluSquared, SharedExperts = 1 };
            MoeLayerOptionsValidator.Failures(nemotron).Should().BeEmpty();
        }

        [Theory]
        [InlineData("alpha0", "MoeLayerOptions.SwiGluAlpha must be a finite number > 0; got 0.")]
        [InlineData("alphaNaN", "MoeLayerOptions.SwiGluAlpha must be a finite number > 0; got NaN.")]
        [InlineData("limitNegative", "MoeLayerOptions.SwiGluLimit must be a finite number > 0; got -1.")]
        [InlineData("limitInfinite", "MoeLayerOptions.SwiGluLimit must be a finite number > 0; got {infinity}.")]
        [InlineData("alphaOnSwiGlu", "MoeLayerOptions.SwiGluAlpha = 2 is only used by Activation = ClampedSwiGlu; got Activation = SwiGlu. Leave it at its default 1.702.")]
        [InlineData("limitOnRelu2", "MoeLayerOptions.SwiGluLimit = 10 is only used by Activation = ClampedSwiGlu; got Activation = ReluSquared. Leave it at its default 7.")]
        [InlineData("routerBiasNoisy", "MoeLayerOptions.RouterBias is only used by the TopK router; got Router = NoisyTopK.")]
        [InlineData("inputsAlways", "MoeLayerOptions.WeightExpertInputs = true is not implemented by the fused CUDA dispatch, so UseCudaDispatch cannot be Always (Auto runs the portable dispatch for such a layer).")]
        public void BadValuesAreRefusedNamingTheField(string change, string message)
        {
            var o = GptOss();
            switch (change)
            {
                case "alpha0": o.SwiGluAlpha = 0; break;
                case "alphaNaN": o.SwiGluAlpha = double.NaN; break;
                case "limitNegative": o.SwiGluLimit = -1; break;
                case "limitInfinite": o.SwiGluLimit = double.PositiveInfinity; break;
                case "alphaOnSwiGlu": o.Activation = ExpertActivation.SwiGlu; o.SwiGluAlpha = 2; break;
                case "limitOnRelu2": o.Activation = ExpertActivation.ReluSquared; o.SwiGluLimit = 10; break;
                case "routerBiasNoisy": o.Router = RouterKind.NoisyTopK; o.TopKOrder = TopKOrder.SoftmaxThenTopK; break;
                case "inputsAlways": o.WeightExpertInputs = true; o.UseCudaDispatch = CudaDispatchMode.Always; break;
            }
            // The validator writes numbers in the current culture, as every message of it does.
            message = message.Replace("{infinity}", double.PositiveInfinity.ToString(), StringComparison.Ordinal);
            MoeLayerOptionsValidator.Failures(o).Should().Equal(message);
            var act = () => Moe.Create(o);
            act.Should().Throw<ArgumentException>().WithMessage("*" + message + "*");
        }

        [Fact]
        public void AutonomyOfExpertsRefusesWeightedInputs()
        {
            var o = new MoeLayerOptions
            {
                Router = RouterKind.AutonomyOfExperts, InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 2, LowRank = 2,
                Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0, WeightExpertInputs = true,
            };
            MoeLayerOptionsValidator.Failures(o).Should().Equal(
                "MoeLayerOptions.WeightExpertInputs must be false for the AutonomyOfExperts router (its experts continue from x·W_down of the unweighted token, which it routed on).");
        }

        [Fact]
        public void TheNewOptionsBindFromConfigurationWithTheirDefaults()
        {
            new MoeLayerOptions().SwiGluAlpha.Should().Be(1.702);
            new MoeLayerOptions().SwiGluLimit.Should().Be(7.0);
            new MoeLayerOptions().RouterBias.Should().BeFalse();
            new MoeLayerOptions().WeightExpertInputs.Should().BeFalse();
            const string json = """{ "Moe": { "InputDim": 8, "HiddenDim": 4, "NumExperts": 4, "TopK": 2, "TopKOrder": "TopKThenSoftmax", "RouterBias": true, "Activation": "ClampedSwiGlu", "SwiGluAlpha": 1.5, "SwiGluLimit": 6, "ExpertBias": true, "WeightExpertInputs": true } }""";
            var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
            var services = new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe")).BuildServiceProvider();
            var layer = services.GetRequiredService<IMoeLayerFactory>().Create();
            layer.Options.Should().BeEquivalentTo(new { RouterBias = true, Activation = ExpertActivation.ClampedSwiGlu, SwiGluAlpha = 1.5, SwiGluLimit = 6.0, WeightExpertInputs = true });
            layer.Experts.Activation.Should().Be(new ActivationFunction(ExpertActivation.ClampedSwiGlu, 1.5, 6.0));
        }
    }
}
