using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>Collect counts each training forward once and never returns a stale loss, with or without scopes.</summary>
    public class AuxiliaryLossCollectionTests
    {
        private static MoeLayerOptions Options() => new() { InputDim = 6, HiddenDim = 4, NumExperts = 3, TopK = 2, LoadBalancingCoefficient = 1, ZLossCoefficient = 0 };

        [Fact]
        public void ALayerCalledTwiceCountsTwice()
        {
            manual_seed(41);
            var layer = new MoeLayer(Options());
            var model = nn.Sequential(("first", layer), ("again", layer));
            var x = randn(9, 6);
            var first = layer.Run(x);
            var second = layer.Run(first.Output);
            model.call(x);
            MoeAuxiliaryLoss.Collect(model).item<float>().Should().BeApproximately(
                first.AuxiliaryLoss.item<float>() + second.AuxiliaryLoss.item<float>(), 1e-5f);
        }

        [Fact]
        public void EachForwardIsCollectedOnceAndALayerThatDidNotRunAddsNothing()
        {
            manual_seed(42);
            var a = new MoeLayer(Options(), "a");
            var b = new MoeLayer(Options(), "b");
            var model = nn.Sequential(("a", a), ("b", b));
            var x = randn(8, 6);
            model.call(x);
            MoeAuxiliaryLoss.Collect(model).item<float>().Should().BeGreaterThan(0.5f);
            MoeAuxiliaryLoss.Collect(model).item<float>().Should().Be(0, "both losses were collected already");

            // Without any dispose scope: only layer a runs in this step, so b's old loss must not come back.
            var expected = a.Run(x).AuxiliaryLoss.item<float>();
            a.call(x);
            MoeAuxiliaryLoss.Collect(model).item<float>().Should().BeApproximately(expected, 1e-6f);
        }

        [Fact]
        public void LossesOfAnEndedScopeAreNotReturned()
        {
            manual_seed(43);
            var layer = new MoeLayer(Options());
            using (var scope = NewDisposeScope()) layer.call(randn(8, 6));
            MoeAuxiliaryLoss.Collect(layer).item<float>().Should().Be(0, "that forward's loss died with its scope");
        }

        [Fact]
        public void EvaluationAndNoGradForwardsKeepNothing()
        {
            var layer = new MoeLayer(Options());
            using (no_grad()) layer.call(randn(8, 6));
            layer.eval();
            layer.call(randn(8, 6));
            layer.TakeAuxiliaryLosses().Should().BeNull();
        }

        [Fact]
        public void RunKeepsNothingForCollect()
        {
            var layer = new MoeLayer(Options());
            layer.Run(randn(8, 6)).AuxiliaryLoss.requires_grad.Should().BeTrue();
            layer.TakeAuxiliaryLosses().Should().BeNull();
        }

        [Fact]
        public void ForwardsThatNoOneCollectsAreRefusedBeforeTheyLeak()
        {
            var layer = new MoeLayer(Options(), "leaky");
            var x = randn(2, 6);
            for (var i = 0; i < PendingAuxiliaryLosses.Limit; i++) layer.call(x);
            var act = () => layer.call(x);
            act.Should().Throw<System.InvalidOperationException>().WithMessage("MoE layer 'leaky' holds 1024 auxiliary losses*MoeAuxiliaryLoss.Collect(model)*");
            MoeAuxiliaryLoss.Collect(layer);
            layer.call(x).shape.Should().Equal(2, 6);
        }
    }
}
