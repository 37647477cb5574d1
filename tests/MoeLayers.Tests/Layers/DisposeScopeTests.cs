using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>Modules built inside a dispose scope keep their parameters when it ends, as TorchSharp's own modules do.</summary>
    public class DisposeScopeTests
    {
        public static IEnumerable<object[]> Layers() => new[]
        {
            new object[] { new MoeLayerOptions { InputDim = 8, HiddenDim = 6, NumExperts = 3, TopK = 2 } },
            new object[] { new MoeLayerOptions { InputDim = 8, HiddenDim = 6, NumExperts = 3, TopK = 2, Router = RouterKind.NoisyTopK } },
            new object[] { new MoeLayerOptions { InputDim = 8, HiddenDim = 6, NumExperts = 3, TopK = 1, Router = RouterKind.Switch } },
            new object[] { new MoeLayerOptions { InputDim = 8, HiddenDim = 6, NumExperts = 3, TopK = 2, Activation = ExpertActivation.SwiGlu, ExpertBias = true } },
            new object[] { new MoeLayerOptions { InputDim = 8, HiddenDim = 6, NumExperts = 3, TopK = 2, Router = RouterKind.AutonomyOfExperts, LowRank = 2, Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0 } },
        };

        [Theory]
        [MemberData(nameof(Layers))]
        public void ParametersSurviveTheScopeTheLayerWasBuiltIn(MoeLayerOptions options)
        {
            MoeLayer layer;
            int expectedParameters;
            using (var scope = NewDisposeScope())
            {
                layer = Moe.Create(options);
                expectedParameters = layer.parameters().Count();
            }
            expectedParameters.Should().BeGreaterThan(0);
            layer.parameters().Should().HaveCount(expectedParameters).And.OnlyContain(p => !p.IsInvalid);
            layer.state_dict().Values.Should().HaveCount(expectedParameters).And.OnlyContain(t => !t.IsInvalid);
            var optimizer = TorchSharp.torch.optim.SGD(layer.parameters(), 0.1);
            using (var scope = NewDisposeScope())
            {
                var loss = layer.call(randn(5, 8)).square().sum() + MoeAuxiliaryLoss.Collect(layer);
                loss.backward();
                optimizer.step();
            }
            layer.parameters().Should().OnlyContain(p => !p.IsInvalid);
        }
    }
}
