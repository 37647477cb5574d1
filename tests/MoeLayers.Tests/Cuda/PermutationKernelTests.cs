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
        private readonly FusedKernels _wide;

        public PermutationKernelTests(CpuKernelsFixture fixture)
        {
            _kernels = fixture.Kernels;
            _wide = fixture.WideKernels;
        }

        [Theory]
        [InlineData(1, 1, 1, null)]
        [InlineData(7, 3, 2, null)]
        [InlineData(200, 8, 2, null)]
        [InlineData(200, 8, 2, 30L)]
        [InlineData(150, 5, 1, 20L)]
        [InlineData(97, 16, 4, 9L)]
        [InlineData(300, 3, 3, 1000L)]
        [InlineData(120, 64, 8, null)]
        public void PermutationEqualsStableSortByExpertWithCapacityByPosition(long tokens, int experts, int k, long? capacity) =>
            CheckAgainstPlan(_kernels, tokens, experts, k, capacity, skew: true);

        /// <summary>
        /// Fine-grained routing (E = 64, k = 8) with 128-thread blocks: 1024 pairs per block walked in 8 chunks of four
        /// 32-pair segments, so ranks carry across segments, chunks and blocks.
        /// </summary>
        [Theory]
        [InlineData(300, 64, 8, null, true)]
        [InlineData(300, 64, 8, 30L, true)]
        [InlineData(257, 64, 8, null, false)]
        [InlineData(129, 16, 3, 20L, false)]
        [InlineData(500, 8, 2, null, true)]
        public void FineGrainedRoutingAcrossSegmentsChunksAndBlocksEqualsTheStableSort(long tokens, int experts, int k, long? capacity, bool skew) =>
            CheckAgainstPlan(_wide, tokens, experts, k, capacity, skew);

        [Fact]
        public void OneExpertTakingEveryPairKeepsPairOrder()
        {
            // Every pair of a block on expert 0 or 1 alternating by token: the worst case for segment counts.
            var tokens = 260L;
            var indices = stack(new[] { arange(tokens, ScalarType.Int64) % 2, (arange(tokens, ScalarType.Int64) + 1) % 2 }, 1);
            var plan = DispatchPlan.Build(indices, ones(tokens, 2), 4, new DispatchRules(null, DropPolicy.ByPosition, null));
            var permutation = _wide.Permute(indices, 4, null, null);
            permutation.KeptPerExpert.Should().Equal(260, 260, 0, 0);
            Ints(permutation.PairOfRow).Should().Equal(Longs(plan.Order));
        }

        private static void CheckAgainstPlan(FusedKernels kernels, long tokens, int experts, int k, long? capacity, bool skew)
        {
            var generator = new Generator(42);
            // Skewed routing, so capacity bites on the popular experts.
            var scores = rand(new[] { tokens, (long)experts }, ScalarType.Float32, generator: generator);
            if (skew) scores *= arange(1, experts + 1, ScalarType.Float32);
            var indices = scores.topk(k, 1).indexes;
            var plan = DispatchPlan.Build(indices, ones(tokens, k), experts, new DispatchRules(capacity, DropPolicy.ByPosition, null));

            var permutation = kernels.Permute(indices, experts, capacity, null);

            permutation.AssignedPerExpert.Should().Equal(plan.AssignedPerExpert);
            permutation.KeptPerExpert.Should().Equal(plan.KeptPerExpert);
            Ints(permutation.PairOfRow).Should().Equal(Longs(plan.Order));
            Longs(permutation.AssignmentOfRow).Should().Equal(Longs(plan.AssignmentOfKept));
            var rowOfPair = Ints(permutation.RowOfPair);
            var expected = Enumerable.Repeat(-1L, (int)(tokens * k)).ToArray();
            var order = Longs(plan.Order);
            for (var row = 0; row < order.Length; row++) expected[order[row]] = row;
            rowOfPair.Should().Equal(expected);
            var offsets = Ints(permutation.ExpertOffsets);
            for (var e = 1; e < experts; e++) offsets[e].Should().Be(offsets[e - 1] + plan.KeptPerExpert[e - 1]);
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
