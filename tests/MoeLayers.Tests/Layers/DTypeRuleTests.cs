using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>Whole-model dtype conversion: router parameters and math stay float32, experts take the model's dtype.</summary>
    public class DTypeRuleTests
    {
        public static IEnumerable<object[]> Cases()
        {
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float64, ScalarType.Float16 })
            {
                foreach (var router in new[] { RouterKind.TopK, RouterKind.NoisyTopK, RouterKind.Switch, RouterKind.AutonomyOfExperts })
                    yield return new object[] { router, dtype };
            }
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void AWholeModelConvertsAndTrainsWithTheRouterInFloat32(RouterKind router, ScalarType dtype)
        {
            manual_seed(11);
            var layer = Moe.Create(Options(router));
            var model = nn.Sequential(("in", nn.Linear(6, 16)), ("moe", layer), ("out", nn.Linear(16, 1)));
            model.to(dtype);

            foreach (var (name, parameter) in model.named_parameters())
            {
                var routerParameter = name.StartsWith("moe.router.");
                parameter.dtype.Should().Be(routerParameter ? ScalarType.Float32 : dtype, name);
            }
            var before = model.parameters().Select(p => p.detach().to(ScalarType.Float64).clone()).ToArray();

            var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
            using (var scope = NewDisposeScope())
            {
                var x = randn(24, 6).to(dtype);
                var y = x.sum(1, keepdim: true);
                var loss = nn.functional.mse_loss(model.call(x), y).to(ScalarType.Float32) + MoeAuxiliaryLoss.Collect(model);
                loss.backward();
                float.IsFinite(loss.item<float>()).Should().BeTrue();
                foreach (var (name, parameter) in model.named_parameters())
                {
                    parameter.grad.Should().NotBeNull(name);
                    parameter.grad!.dtype.Should().Be(parameter.dtype, name);
                    parameter.grad.isfinite().all().item<bool>().Should().BeTrue(name);
                }
                optimizer.step();
            }
            var after = model.parameters().Select(p => p.detach().to(ScalarType.Float64)).ToArray();
            after.Zip(before).Any(pair => !pair.First.allclose(pair.Second, 0, 0)).Should().BeTrue("the optimizer step changed the parameters");
        }

        [Fact]
        public void HalfAndBFloat16ConversionsKeepTheRouterInFloat32()
        {
            var layer = (MoeLayer)Moe.Create(Options(RouterKind.TopK));
            layer.bfloat16();
            layer.Router.Weight.dtype.Should().Be(ScalarType.Float32);
            layer.Experts.InputWeight.dtype.Should().Be(ScalarType.BFloat16);
            layer.half();
            layer.Router.Weight.dtype.Should().Be(ScalarType.Float32);
            layer.Experts.InputWeight.dtype.Should().Be(ScalarType.Float16);
            layer.to(CPU, ScalarType.Float64);
            layer.Router.Weight.dtype.Should().Be(ScalarType.Float32);
            layer.Experts.InputWeight.dtype.Should().Be(ScalarType.Float64);
        }

        private static MoeLayerOptions Options(RouterKind router) => router switch
        {
            RouterKind.AutonomyOfExperts => new MoeLayerOptions
            {
                InputDim = 16, HiddenDim = 12, NumExperts = 4, TopK = 2, Router = router, LowRank = 4,
                Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0,
            },
            RouterKind.Switch => new MoeLayerOptions { InputDim = 16, HiddenDim = 12, NumExperts = 4, TopK = 1, Router = router },
            _ => new MoeLayerOptions { InputDim = 16, HiddenDim = 12, NumExperts = 4, TopK = 2, Router = router, NoisyZeroInit = false },
        };
    }
}
