using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>The fused softmax/top-k kernel against the TopKRouter's TorchSharp selection, values and gradients.</summary>
    [Collection(CpuKernelsCollection.Name)]
    public class RoutingKernelTests
    {
        private readonly FusedKernels _kernels;

        public RoutingKernelTests(CpuKernelsFixture fixture)
        {
            _kernels = fixture.Kernels;
        }

        [Theory]
        [InlineData(70, 8, 2, TopKOrder.SoftmaxThenTopK, true)]
        [InlineData(70, 8, 2, TopKOrder.SoftmaxThenTopK, false)]
        [InlineData(45, 5, 3, TopKOrder.TopKThenSoftmax, false)]
        [InlineData(33, 4, 1, TopKOrder.SoftmaxThenTopK, false)]
        [InlineData(10, 1, 1, TopKOrder.TopKThenSoftmax, false)]
        public void SelectionWeightsProbabilitiesAndGradientsMatchTorch(long tokens, int experts, int k, TopKOrder order, bool renormalize)
        {
            var generator = new Generator(7);
            var logits = (randn(new[] { tokens, (long)experts }, ScalarType.Float32, generator: generator) * 3).requires_grad_(true);
            var upstreamWeights = randn(new[] { tokens, (long)k }, ScalarType.Float32, generator: generator);
            var upstreamProbabilities = randn(new[] { tokens, (long)experts }, ScalarType.Float32, generator: generator);

            var fused = FusedTopK.Route(_kernels, logits, k, order, renormalize).Routing;
            var expected = new TopKRouter(experts, experts, new TopKRule(order, renormalize)).Select(logits, logits, k, null);
            var (expectedIndices, expectedWeights) = (expected.ExpertIndices, expected.CombineWeights);

            PermutationKernelTests.Longs(fused.ExpertIndices).Should().Equal(PermutationKernelTests.Longs(expectedIndices));
            TensorAssert.Close(fused.CombineWeights, expectedWeights, 1e-6);
            TensorAssert.Close(fused.Probabilities, logits.softmax(-1), 1e-6);

            var fusedGrad = Gradient(logits, fused.CombineWeights, fused.Probabilities, upstreamWeights, upstreamProbabilities);
            var expectedGrad = Gradient(logits, expectedWeights, logits.softmax(-1), upstreamWeights, upstreamProbabilities);
            TensorAssert.Close(fusedGrad, expectedGrad, 1e-5);
        }

        [Fact]
        public void BlockCountsAreTheExpertHistogramOfEachTokenRange()
        {
            var logits = randn(new[] { 100L, 6 }, ScalarType.Float32, generator: new Generator(3));
            var (indices, _, _, counts) = _kernels.SoftmaxTopK(logits, 2, TopKSelection.SoftmaxThenTopK);
            var partition = counts.Partition;
            partition.Blocks.Should().Be(4, "32 tokens per block");
            var flat = PermutationKernelTests.Longs(indices);
            var blockCounts = PermutationKernelTests.Longs(counts.BlockCounts);
            for (var e = 0; e < 6; e++)
            {
                for (var b = 0; b < partition.Blocks; b++)
                {
                    var expected = flat.Skip(b * partition.PairsPerBlock).Take(partition.PairsPerBlock).Count(x => x == e);
                    blockCounts[e * partition.Blocks + b].Should().Be(expected, $"expert {e}, block {b}");
                }
            }
            PermutationKernelTests.Longs(counts.Status).Should().Equal(0L);
        }

        [Fact]
        public void RoutingCountsFeedThePermutationUnchanged()
        {
            var logits = randn(new[] { 90L, 5 }, ScalarType.Float32, generator: new Generator(5));
            var fused = FusedTopK.Route(_kernels, logits, 2, TopKOrder.SoftmaxThenTopK, true);
            var routed = fused.Routing;
            var reused = fused.DeviceCounts.Should().BeOfType<ExpertCounts>().Subject;

            var withCounts = _kernels.Permute(routed.ExpertIndices, 5, 30, reused);
            var recounted = _kernels.Permute(routed.ExpertIndices, 5, 30, null);

            withCounts.KeptPerExpert.Should().Equal(recounted.KeptPerExpert);
            PermutationKernelTests.Longs(withCounts.RowOfPair).Should().Equal(PermutationKernelTests.Longs(recounted.RowOfPair));
        }

        [Fact]
        public void NaNLogitsAreReportedByTheDispatch()
        {
            var logits = randn(new[] { 8L, 4 }, ScalarType.Float32, generator: new Generator(1));
            logits[3, 2] = tensor(float.NaN);
            var fused = FusedTopK.Route(_kernels, logits, 2, TopKOrder.SoftmaxThenTopK, true);
            var act = () => _kernels.Permute(fused.Routing.ExpertIndices, 4, null, (ExpertCounts)fused.DeviceCounts);
            act.Should().Throw<System.ArgumentException>().WithMessage("*NaN router logits*");
        }

        private static Tensor Gradient(Tensor logits, Tensor weights, Tensor probabilities, Tensor upstreamWeights, Tensor upstreamProbabilities)
        {
            logits.grad?.zero_();
            ((weights * upstreamWeights).sum() + (probabilities * upstreamProbabilities).sum()).backward();
            var grad = logits.grad!.clone();
            logits.grad!.zero_();
            return grad;
        }
    }
}
