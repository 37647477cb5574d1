using System;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>With CheckFinite on, NaN or Inf in the input or the routing scores throws before any expert is picked.</summary>
    public class FiniteCheckTests
    {
        private static MoeLayer Layer(bool check, string name = "moe") =>
            new(new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 3, TopK = 2, CheckFinite = check }, name);

        [Theory]
        [InlineData(float.NaN)]
        [InlineData(float.PositiveInfinity)]
        public void ANonFiniteInputIsNamed(float value)
        {
            var x = randn(5, 4);
            x[2, 3] = tensor(value);
            var act = () => Layer(true, "block3_moe").call(x);
            act.Should().Throw<ArgumentException>().WithMessage("MoE layer 'block3_moe': the input holds 1 NaN or Inf value(s) of 20*").Which.ParamName.Should().Be("input");
        }

        [Fact]
        public void NonFiniteRouterLogitsAreNamed()
        {
            var layer = Layer(true);
            using (no_grad()) layer.Router.Weight[1, 0] = tensor(float.PositiveInfinity);
            var x = ones(5, 4); // finite input, but ∞·1 + (−∞·…) gives non-finite logits
            var act = () => layer.call(x);
            act.Should().Throw<InvalidOperationException>().WithMessage("MoE layer 'moe': the router logits hold 5 NaN or Inf value(s) of 15 although the input is finite*");
        }

        [Fact]
        public void OffByDefault()
        {
            var x = randn(5, 4);
            x[0, 0] = tensor(float.NaN);
            new MoeLayerOptions().CheckFinite.Should().BeFalse();
            var act = () => Layer(false).call(x);
            act.Should().NotThrow<ArgumentException>();
        }
    }
}
