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
            var act = () => new TopKRouter(4, 3, 2, (TopKOrder)9);
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("order must be one of SoftmaxThenTopK, TopKThenSoftmax; got 9.*");
        }
    }
}
