using System;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>Forwards hand their values along: concurrent evaluation forwards of one layer are safe, a throw leaves nothing.</summary>
    public class ConcurrencyTests
    {
        private static MoeLayer Aoe() => Moe.AutonomyOfExperts(8, 12, 3, numExperts: 5, topK: 2);

        private static MoeLayer TopK() => Moe.TopK(8, 12, numExperts: 5, topK: 2);

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void ConcurrentEvaluationForwardsOfOneLayerMatchSequentialOnes(bool autonomyOfExperts)
        {
            manual_seed(51);
            var layer = autonomyOfExperts ? Aoe() : TopK();
            layer.eval();
            var inputs = Enumerable.Range(0, 16).Select(i => randn(new long[] { 20 + i, 8 }, generator: new Generator((ulong)i))).ToArray();
            var expected = inputs.Select(x => { using (no_grad()) return layer.call(x).detach().clone(); }).ToArray();

            var actual = new Tensor[inputs.Length];
            Parallel.For(0, inputs.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var y = layer.call(inputs[i % inputs.Length]);
                if (i < inputs.Length) actual[i] = y.detach().clone().MoveToOuterDisposeScope();
                else y.shape.Should().Equal(inputs[i % inputs.Length].shape);
            });
            for (var i = 0; i < inputs.Length; i++) TensorAssert.Close(actual[i], expected[i], 0, $"input {i}");
        }

        [Fact]
        public void AThrowMidForwardLeavesNothingBehind()
        {
            manual_seed(52);
            var options = new MoeLayerOptions
            {
                InputDim = 8, HiddenDim = 12, NumExperts = 5, TopK = 2, Router = RouterKind.AutonomyOfExperts, LowRank = 3,
                Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0, CheckFinite = true,
            };
            var layer = Moe.Create(options);
            var good = randn(10, 8);
            var bad = good.clone();
            bad[3, 1] = tensor(float.NaN);
            var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            using (var scope = NewDisposeScope())
            {
                var act = () => layer.call(bad);
                act.Should().Throw<ArgumentException>();
            }
            DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before, "every tensor of the failed forward died with its scope");
            layer.TakeAuxiliaryLosses().Should().BeNull();
            using (var scope = NewDisposeScope()) layer.call(good).isfinite().all().item<bool>().Should().BeTrue("the next forward starts clean");
        }
    }
}
