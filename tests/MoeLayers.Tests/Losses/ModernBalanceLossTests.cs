using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Losses
{
    /// <summary>Sequence-wise loss by hand; global-batch accumulation equals one big batch.</summary>
    public class ModernBalanceLossTests
    {
        [Fact]
        public void SequenceWiseLossMatchesAHandComputation()
        {
            // Two sequences of 2 tokens, E = 2, k = 1. Normalized affinities s':
            //   seq 0: t0 [0.8, 0.2] → expert 0, t1 [0.4, 0.6] → expert 1;  seq 1: t0 [0.9, 0.1] → 0, t1 [0.7, 0.3] → 0.
            // seq 0: f = E/(k·S)·counts = 2/2·[1, 1] = [1, 1], P = [0.6, 0.4] → L = 1.0.
            // seq 1: f = [2, 0], P = [0.8, 0.2] → L = 1.6.  Mean: 1.3.
            var probabilities = tensor(new[] { 0.8f, 0.2f, 0.4f, 0.6f, 0.9f, 0.1f, 0.7f, 0.3f }).reshape(4, 2);
            var routing = new RoutingResult(tensor(new long[] { 0, 1, 0, 0 }).reshape(4, 1), ones(4, 1), probabilities.log(), probabilities);
            SequenceBalanceLoss.Compute(routing, 2).item<float>().Should().BeApproximately(1.3f, 1e-6f);
            // Padding the last token of sequence 1: S = 1 there, f = 2/1·[1, 0] = [2, 0], P = [0.9, 0.1] → 1.8; mean 1.4.
            SequenceBalanceLoss.Compute(routing, 2, tensor(new[] { true, true, true, false })).item<float>().Should().BeApproximately(1.4f, 1e-6f);
        }

        [Fact]
        public void ABalancedSequenceScoresOne()
        {
            var probabilities = full(4, 4, 0.25f);
            var routing = new RoutingResult(tensor(new long[] { 0, 1, 2, 3, 1, 0, 3, 2 }).reshape(4, 2), full(4, 2, 0.5f), zeros(4, 4), probabilities);
            SequenceBalanceLoss.Compute(routing, 1).item<float>().Should().BeApproximately(1f, 1e-6f);
        }

        [Fact]
        public void TheLayerTreatsTheSecondToLastDimensionAsTheSequence()
        {
            manual_seed(81);
            var options = new MoeLayerOptions { InputDim = 6, HiddenDim = 4, NumExperts = 4, TopK = 2, LoadBalancingLoss = LoadBalancingLossKind.SequenceWise, ZLossCoefficient = 0 };
            var layer = Moe.Create(options);
            var x = randn(3, 5, 6);
            var output = layer.Run(x);
            var expected = SequenceBalanceLoss.Compute(output.Routing, 3);
            TensorAssert.Close(output.LoadBalancingLoss, expected, 1e-7, "[3, 5, 6] is three sequences of five tokens");
        }

        [Fact]
        public void GlobalBatchCountsOverMicroBatchesEqualOneBigBatch()
        {
            manual_seed(82);
            var options = new MoeLayerOptions { InputDim = 6, HiddenDim = 4, NumExperts = 4, TopK = 2, LoadBalancingLoss = LoadBalancingLossKind.GlobalBatch, LoadBalancingCoefficient = 1, ZLossCoefficient = 0 };
            var layer = Moe.Create(options);
            var big = randn(20, 6);
            var state = layer.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

            // One big batch: the Switch form over all 20 tokens.
            var reference = Moe.Create(new MoeLayerOptions { InputDim = 6, HiddenDim = 4, NumExperts = 4, TopK = 2, LoadBalancingCoefficient = 1, ZLossCoefficient = 0 });
            reference.load_state_dict(state);
            var bigLoss = reference.Run(big).AuxiliaryLoss;
            bigLoss.backward();
            var bigGradient = reference.named_parameters().First(p => p.name == "router.weight").parameter.grad!.clone();

            // Three micro-batches of 8, 5 and 7 tokens, collected together.
            layer.call(big.narrow(0, 0, 8));
            layer.call(big.narrow(0, 8, 5));
            layer.call(big.narrow(0, 13, 7));
            var accumulated = MoeAuxiliaryLoss.Collect(layer);
            accumulated.item<float>().Should().BeApproximately(bigLoss.item<float>(), 1e-6f);
            accumulated.backward();
            TensorAssert.Close(layer.named_parameters().First(p => p.name == "router.weight").parameter.grad!, bigGradient, 1e-6, "router gradient");

            // A new step starts counting anew.
            MoeLoadBalancing.AfterOptimizerStep(layer);
            var alone = layer.Run(big.narrow(0, 8, 5)).AuxiliaryLoss.item<float>();
            var switchOnAlone = reference.Run(big.narrow(0, 8, 5)).AuxiliaryLoss.item<float>();
            alone.Should().BeApproximately(switchOnAlone, 1e-6f, "after the step only this micro-batch counts");
        }
    }
}
