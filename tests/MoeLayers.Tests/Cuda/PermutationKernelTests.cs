using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>The counting-sort kernels against the core's DispatchPlan, exact, across several blocks.</summary>
    [Collection(CpuKernelsCollection.Name)]
    public class PermutationKernelTests
    {
        private readonly FusedKernels _kernels;

        public PermutationKernelTests(CpuKernelsFixture fixture)
        {
            _kernels = fixture.Kernels;
        }

        [Theory]
        [InlineData(1, 1, 1, null)]
        [InlineData(7, 3, 2, null)]
        [InlineData(200, 8, 2, null)]
        [InlineData(200, 8, 2, 30L)]
        [InlineData(150, 5, 1, 20L)]
        [InlineData(97, 16, 4, 9L)]
        [InlineData(300, 3, 3, 1000L)]
        public void PermutationEqualsStableSortByExpertWithCapacityByPosition(long tokens, int experts, int k, long? capacity)
        {
            var generator = new Generator(42);
            // Skewed routing, so capacity bites on the popular experts.
            var scores = rand(new[] { tokens, (long)experts }, ScalarType.Float32, generator: generator) * arange(1, experts + 1, ScalarType.Float32);
            var indices = scores.topk(k, 1).indexes;
            var plan = DispatchPlan.Build(indices, ones(tokens, k), experts, new DispatchRules(capacity, DropPolicy.ByPosition, null));

            var permutation = _kernels.Permute(indices, experts, capacity, null);

            permutation.AssignedPerExpert.Should().Equal(plan.AssignedPerExpert);
            permutation.KeptPerExpert.Should().Equal(plan.KeptPerExpert);
            Ints(permutation.PairOfRow).Should().Equal(Longs(plan.Order));
            Longs(permutation.AssignmentOfRow).Should().Equal(Longs(plan.AssignmentOfKept));
            var rowOfPair = Ints(permutation.RowOfPair);
            var expected = Enumerable.Repeat(-1L, (int)(tokens * k)).ToArray();
            var order = Longs(plan.Order);
            for (var row = 0; row < order.Length; row++) expected[order[row]] = row;
            rowOfPair.Should().Equal(expected);
        }

        [Fact]
        public void PaddedLayoutPutsRankROfExpertEAtRowECPlusR()
        {
            var indices = tensor(new long[] { 2, 0, 0, 1, 2, 0, 0, 2 }).view(4, 2);
            var permutation = _kernels.Permute(indices, 3, 2, null);
            var (layout, capacity) = _kernels.PadLayout(permutation, indices);

            capacity.Should().Be(2);
            // Pairs by expert, capacity 2 by position: e0 keeps pairs 1, 2 (pairs 5, 6 dropped); e1 keeps 3; e2 keeps 0, 4 (7 dropped).
            Ints(layout.PairOfRow).Should().Equal(1, 2, 3, -1, 0, 4);
            Ints(layout.RowOfPair).Should().Equal(4, 0, 1, 2, 5, -1, -1, -1);
            Longs(layout.AssignmentOfRow).Should().Equal(0 * 3 + 0, 1 * 3 + 0, 1 * 3 + 1, 0, 0 * 3 + 2, 2 * 3 + 2);
        }

        [Fact]
        public void ExpertIndexOutOfRangeIsReportedNotScattered()
        {
            var indices = tensor(new long[] { 0, 1, 5, 2 }).view(2, 2);
            var act = () => _kernels.Permute(indices, 4, null, null);
            act.Should().Throw<ArgumentException>().WithMessage("*outside [0, 4)*");
        }

        internal static long[] Longs(Tensor t) => t.cpu().to(ScalarType.Int64).data<long>().ToArray();

        internal static long[] Ints(Tensor t) => Longs(t);
    }
}
