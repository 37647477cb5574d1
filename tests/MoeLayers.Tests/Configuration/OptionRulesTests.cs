using System;
using System.IO;
using System.Text;
using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MoeLayers.Tests.Configuration
{
    /// <summary>Options that make no sense are refused with the field named and why.</summary>
    public class OptionRulesTests
    {
        [Theory]
        [InlineData(RouterKind.TopK, true, TopKOrder.SoftmaxThenTopK, "*RenormalizeWeights = true needs TopK ≥ 2*every combine weight would be exactly 1*")]
        [InlineData(RouterKind.TopK, null, TopKOrder.TopKThenSoftmax, "*TopKOrder = TopKThenSoftmax needs TopK ≥ 2*")]
        [InlineData(RouterKind.AutonomyOfExperts, true, TopKOrder.SoftmaxThenTopK, "*RenormalizeWeights = true needs TopK ≥ 2*")]
        [InlineData(RouterKind.NoisyTopK, null, TopKOrder.SoftmaxThenTopK, "*Router = NoisyTopK needs TopK ≥ 2*Use the Switch router*")]
        public void SingleExpertRulesThatFreezeTheWeightsAreRefused(RouterKind router, bool? renormalize, TopKOrder order, string message)
        {
            var options = new MoeLayerOptions { InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 1, Router = router, RenormalizeWeights = renormalize, TopKOrder = order };
            if (router == RouterKind.AutonomyOfExperts) (options.LowRank, options.Activation, options.ZLossCoefficient) = (2, ExpertActivation.SwiGlu, 0);
            var act = () => Moe.Create(options);
            act.Should().Throw<ArgumentException>().WithMessage(message);
        }

        [Fact]
        public void SingleExpertWithFullSoftmaxWeightsIsAccepted()
        {
            Moe.Create(new MoeLayerOptions { InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 1, RenormalizeWeights = false }).TopK.Should().Be(1);
            Moe.Create(new MoeLayerOptions { InputDim = 8, HiddenDim = 4, NumExperts = 4, TopK = 1, Router = RouterKind.Switch }).TopK.Should().Be(1);
        }

        [Theory]
        [InlineData(nameof(MoeLayerOptions.Router))]
        [InlineData(nameof(MoeLayerOptions.TopKOrder))]
        [InlineData(nameof(MoeLayerOptions.LoadBalancingLoss))]
        [InlineData(nameof(MoeLayerOptions.DropPolicy))]
        [InlineData(nameof(MoeLayerOptions.Dispatch))]
        [InlineData(nameof(MoeLayerOptions.Activation))]
        [InlineData(nameof(MoeLayerOptions.UseCudaDispatch))]
        public void UndefinedEnumValuesAreRefusedFromCode(string field)
        {
            var options = new MoeLayerOptions { InputDim = 8, HiddenDim = 4 };
            var property = typeof(MoeLayerOptions).GetProperty(field)!;
            property.SetValue(options, Enum.ToObject(property.PropertyType, 7));
            MoeLayerOptionsValidator.Failures(options).Should().ContainSingle()
                .Which.Should().Match($"MoeLayerOptions.{field} must be one of *; got 7.");
        }

        [Theory]
        [InlineData(nameof(MoeLayerOptions.TopKOrder))]
        [InlineData(nameof(MoeLayerOptions.DropPolicy))]
        [InlineData(nameof(MoeLayerOptions.Activation))]
        public void UndefinedEnumValuesAreRefusedFromConfiguration(string field)
        {
            var json = $$"""{ "Moe": { "InputDim": 8, "HiddenDim": 4, "{{field}}": "7" } }""";
            var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
            var services = new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe")).BuildServiceProvider();
            var act = () => services.GetRequiredService<IOptions<MoeLayerOptions>>().Value;
            act.Should().Throw<OptionsValidationException>().Which.Failures.Should().Contain(f => f.StartsWith($"MoeLayerOptions.{field} must be one of") && f.EndsWith("got 7."));
        }

        [Fact]
        public void RoutersRefuseUndefinedOrders()
        {
            var act = () => new TopKRouter(4, 3, new TopKRule((TopKOrder)9, null));
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("order must be one of SoftmaxThenTopK, TopKThenSoftmax; got 9.*");
        }
    }
}

namespace MoeLayers.Tests.Configuration
{
    /// <summary>The modern-router options: each bad combination refused with the field named.</summary>
    public class ModernOptionRulesTests
    {
        private static MoeLayerOptions DeepSeek() => MoeLayers.Tests.Routing.ModernRouterTests.DeepSeekOptions();

        [Theory]
        [InlineData("groups", "*ExpertGroups must divide NumExperts = 8 into equal groups; got 3.*")]
        [InlineData("topkgroups", "*TopKGroups must be in [1, ExpertGroups = 4]; got 5.*")]
        [InlineData("reach", "*TopK = 5 is more than the 4 experts that TopKGroups = 2 groups of 2 leave.*")]
        [InlineData("gamma", "*BalanceBiasRate (γ) must be a finite number ≥ 0; got -0.1.*")]
        [InlineData("shared", "*SharedHiddenDim must be 0 (same as HiddenDim) or at least 1; got -2.*")]
        [InlineData("gate", "*SharedExpertGate gates the shared experts' output, so it needs SharedExperts ≥ 1; got 0.*")]
        [InlineData("scale", "*RoutedScalingFactor must be a finite number > 0; got 0.*")]
        [InlineData("order", "*TopKOrder = TopKThenSoftmax selects on raw logits*")]
        [InlineData("sigmoid-noisy", "*ScoreFunction = Sigmoid is only used by the TopK router; got Router = NoisyTopK.*")]
        [InlineData("evalk", "*EvalTopK must be 0 (same as TopK) or in [1, NumExperts = 8]; got 9.*")]
        [InlineData("onegroup", "*GroupScore = SumOfTopTwo needs at least 2 experts per group; got 1.*")]
        public void BadCombinationsAreRefusedNamingTheField(string change, string message)
        {
            var o = DeepSeek();
            switch (change)
            {
                case "groups": o.ExpertGroups = 3; break;
                case "topkgroups": o.TopKGroups = 5; break;
                case "reach": o.TopK = 5; break;
                case "gamma": o.BalanceBiasRate = -0.1; break;
                case "shared": o.SharedHiddenDim = -2; break;
                case "gate": o.SharedExperts = 0; o.SharedExpertGate = true; break;
                case "scale": o.RoutedScalingFactor = 0; break;
                case "order": o.TopKOrder = TopKOrder.TopKThenSoftmax; break;
                case "sigmoid-noisy": o.Router = RouterKind.NoisyTopK; o.BalanceBias = false; o.ExpertGroups = 1; o.RoutedScalingFactor = 1; break;
                case "evalk": o.EvalTopK = 9; break;
                case "onegroup": o.ExpertGroups = 8; o.TopKGroups = 4; break;
            }
            var act = () => Moe.Create(o);
            act.Should().Throw<ArgumentException>().WithMessage(message);
        }

        [Fact]
        public void TheDeepSeekStyleOptionsAreValidAndBindFromConfiguration()
        {
            MoeLayerOptionsValidator.Failures(DeepSeek()).Should().BeEmpty();
            const string json = """{ "Moe": { "InputDim": 8, "HiddenDim": 4, "NumExperts": 8, "TopK": 2, "ScoreFunction": "Sigmoid", "ExpertGroups": 4, "TopKGroups": 2, "GroupScore": "Max", "BalanceBias": true, "BalanceBiasRate": 0.002, "RoutedScalingFactor": 2.5, "SharedExperts": 1, "SharedExpertGate": true, "EvalTopK": 1 } }""";
            var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
            var services = new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe")).BuildServiceProvider();
            var options = services.GetRequiredService<IOptions<MoeLayerOptions>>().Value;
            (options.ScoreFunction, options.GroupScore, options.BalanceBiasRate, options.EvalTopK, options.SharedExpertGate)
                .Should().Be((ScoreFunction.Sigmoid, GroupScore.Max, 0.002, 1, true));
            services.GetRequiredService<IMoeLayerFactory>().Create().EvalTopK.Should().Be(1);
        }
    }
}
