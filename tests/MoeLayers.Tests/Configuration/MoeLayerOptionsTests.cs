using System.Collections.Generic;
using System.IO;
using System.Text;
using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MoeLayers.Tests.Configuration
{
    public class MoeLayerOptionsTests
    {
        private const string Json = """
            {
              "Moe": { "InputDim": 16, "HiddenDim": 32, "NumExperts": 4, "TopK": 1, "Router": "Switch", "SwitchJitter": 0.01,
                       "CapacityFactor": 1.25, "DropPolicy": "ByWeight" },
              "Aoe": { "InputDim": 16, "HiddenDim": 24, "NumExperts": 4, "TopK": 2, "Router": "AutonomyOfExperts", "LowRank": 4,
                       "Activation": "SwiGlu", "ZLossCoefficient": 0, "RenormalizeWeights": false },
              "Bad": { "InputDim": 16, "HiddenDim": 32, "NumExperts": 4, "TopK": 6, "MinCapacity": 0 },
              "Lora": { "InputDim": 16, "HiddenDim": 32, "NumExperts": 4, "Activation": "SwiGlu",
                        "Lora": { "Rank": 4, "Alpha": 16, "RankStabilized": true, "Projections": "Input, Output", "TrainRouter": true } }
            }
            """;

        private static IConfiguration Configuration() =>
            new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(Json))).Build();

        [Fact]
        public void BindsFromJsonAndBuildsTheLayer()
        {
            var services = new ServiceCollection().AddMoeLayers(Configuration().GetSection("Moe")).BuildServiceProvider();
            var options = services.GetRequiredService<IOptions<MoeLayerOptions>>().Value;
            options.Router.Should().Be(RouterKind.Switch);
            options.DropPolicy.Should().Be(DropPolicy.ByWeight);
            options.CapacityFactor.Should().Be(1.25);
            var layer = services.GetRequiredService<IMoeLayerFactory>().Create();
            layer.Should().BeOfType<MoeLayer>().Which.Router.Should().BeOfType<SwitchRouter>();
            layer.NumExperts.Should().Be(4);
        }

        [Fact]
        public void FactoryBuildsTheMoeLayerFromJson()
        {
            var services = new ServiceCollection().AddMoeLayers("aoe", Configuration().GetSection("Aoe")).BuildServiceProvider();
            var layer = services.GetRequiredService<IMoeLayerFactory>().Create("aoe");
            var aoe = layer.Should().BeOfType<MoeLayer>().Which;
            aoe.Options.LowRank.Should().Be(4);
            aoe.Options.RenormalizeWeights.Should().BeFalse();
            aoe.LowRankExperts.DownWeight.shape.Should().Equal(16, 16);
        }

        [Fact]
        public void BindsTheLoraSectionAndBuildsAnAdaptedLayer()
        {
            var services = new ServiceCollection().AddMoeLayers("lora", Configuration().GetSection("Lora")).BuildServiceProvider();
            var layer = services.GetRequiredService<IMoeLayerFactory>().Create("lora");
            var lora = layer.Options.Lora!;
            (lora.Rank, lora.Alpha, lora.RankStabilized, lora.Projections, lora.TrainRouter, lora.AdaptSharedExperts)
                .Should().Be((4, 16.0, true, LoraProjections.Input | LoraProjections.Output, true, true));
            lora.Scale.Should().Be(8, "rsLoRA: 16/√4");
            MoeLora.AdapterStateDict(layer).Keys.Should().BeEquivalentTo("router.weight", "experts.lora.a_in", "experts.lora.b_in", "experts.lora.a_out", "experts.lora.b_out");
        }

        [Fact]
        public void ValidateOnStartReportsEveryBadField()
        {
            var services = new ServiceCollection().AddMoeLayers("bad", Configuration().GetSection("Bad")).BuildServiceProvider();
            var validator = services.GetRequiredService<IStartupValidator>();
            var act = () => validator.Validate();
            act.Should().Throw<OptionsValidationException>()
                .Which.Failures.Should().BeEquivalentTo(
                    "MoeLayerOptions.TopK must be in [1, NumExperts = 4]; got 6.",
                    "MoeLayerOptions.MinCapacity must be at least 1; got 0.");
        }

        [Fact]
        public void ValidatorAcceptsDefaultsWithShape()
        {
            MoeLayerOptionsValidator.Failures(new MoeLayerOptions { InputDim = 4, HiddenDim = 8 }).Should().BeEmpty();
        }

        [Fact]
        public void SwitchNeedsTopOne()
        {
            MoeLayerOptionsValidator.Failures(new MoeLayerOptions { InputDim = 4, HiddenDim = 8, Router = RouterKind.Switch, TopK = 2 })
                .Should().ContainSingle().Which.Should().Be("MoeLayerOptions.TopK must be 1 for the Switch router; got 2.");
        }

        [Fact]
        public void ReportsMissingDimensionsAndBadCoefficients()
        {
            var failures = MoeLayerOptionsValidator.Failures(new MoeLayerOptions { LoadBalancingCoefficient = -1, SwitchJitter = 1, EvalCapacityFactor = double.PositiveInfinity });
            failures.Should().BeEquivalentTo(new List<string>
            {
                "MoeLayerOptions.InputDim must be at least 1; got 0.",
                "MoeLayerOptions.HiddenDim must be at least 1; got 0.",
                "MoeLayerOptions.SwitchJitter must be in [0, 1); got 1.",
                "MoeLayerOptions.EvalCapacityFactor must be a finite number > 0, or null for dropless routing; got Infinity.",
                "MoeLayerOptions.LoadBalancingCoefficient must be a finite number ≥ 0; got -1.",
            });
        }
    }
}
