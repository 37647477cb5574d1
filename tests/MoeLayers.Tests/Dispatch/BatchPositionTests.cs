using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Dispatch
{
    /// <summary>
    /// The one capacity and drop rule across ranks (what expert parallelism relies on), without MPI: three simulated
    /// ranks' plans, each built with its <see cref="BatchPosition"/> from the counts every rank would gather, against a
    /// brute-force one-process selection on the concatenated batch; and every rank's kept counts from the counts alone.
    /// </summary>
    public sealed class BatchPositionTests
    {
        [Theory]
        [InlineData(DropPolicy.ByPosition, 0.5, 3, 2, 6)]
        [InlineData(DropPolicy.ByPosition, 0.8, 2, 1, 4)]
        [InlineData(DropPolicy.ByChoiceThenPosition, 0.5, 3, 2, 6)]
        [InlineData(DropPolicy.ByChoiceThenPosition, 0.7, 3, 3, 6)]
        [InlineData(DropPolicy.ByPosition, null, 3, 2, 6)]
        public void EveryRankKeepsExactlyThePairsOneProcessKeepsOnTheConcatenatedBatch(DropPolicy policy, double? cf, int world, int topK, int experts)
        {
            var random = new Random(11);
            var tokens = new[] { 17, 9, 23 }.Take(world).ToArray();   // unequal shares
            var routing = tokens.Select(t => Enumerable.Range(0, t).SelectMany(_ => Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(topK))
                .Select(e => (long)e).ToArray()).ToArray();
            var indices = routing.Select((r, rank) => tensor(r).reshape(tokens[rank], topK)).ToArray();
            var counts = indices.Select(i => DispatchPlan.PairCounts(i, experts)).ToArray();
            var globalTokens = tokens.Sum();
            var capacity = Capacity.Compute(cf, globalTokens, topK, experts, 1);
            if (cf is not null) capacity.Should().Be((long)Math.Ceiling(cf.Value * topK * globalTokens / experts));

            // One process: global pair (token, slot), kept if among the first C of its expert in the policy's order.
            var all = routing.SelectMany((chosen, r) => chosen.Select((e, p) => (Rank: r, Pair: (long)p, Token: tokens.Take(r).Sum() + p / topK, Slot: p % topK, Expert: e))).ToList();
            var expected = new HashSet<(int, long)>();
            foreach (var group in all.GroupBy(x => x.Expert))
            {
                var ordered = policy == DropPolicy.ByPosition ? group.OrderBy(x => x.Token).ThenBy(x => x.Slot) : group.OrderBy(x => x.Slot).ThenBy(x => x.Token);
                foreach (var x in ordered.Take(capacity is { } c ? (int)c : int.MaxValue)) expected.Add((x.Rank, x.Pair));
            }
            if (cf is not null) expected.Count.Should().BeLessThan(all.Count, "the case must drop pairs");

            var total = Sum(counts, experts, topK);
            var rules = new DispatchRules(capacity, policy, null);
            var plans = Enumerable.Range(0, world).Select(r => DispatchPlan.Build(indices[r], ones(tokens[r], topK), experts, rules,
                position: new BatchPosition(Sum(counts.Take(r), experts, topK), total))).ToArray();
            var kept = plans.SelectMany((plan, r) => plan.Order.data<long>().ToArray().Select(p => (r, p))).ToHashSet();
            kept.Should().BeEquivalentTo(expected);
            for (var r = 0; r < world; r++)
            {
                // Rows are expert-contiguous, so each destination rank's rows are contiguous and in its experts' order.
                plans[r].Order.data<long>().ToArray().Select(p => routing[r][p]).Should().BeInAscendingOrder();
                Capacity.KeptPerExpert(policy, capacity, counts[r], Sum(counts.Take(r), experts, topK), total)
                    .Should().Equal(plans[r].KeptPerExpert, "another rank computes rank {0}'s kept counts from the gathered counts alone", r);
            }
        }

        [Fact]
        public void ByWeightIsRefusedForABatchWithRanksBeforeIt()
        {
            var mine = new long[2, 1] { { 3 }, { 1 } };
            var act = () => Capacity.KeptPerExpert(DropPolicy.ByWeight, 2, mine, new long[2, 1], mine);
            act.Should().Throw<NotSupportedException>().WithMessage("*ByWeight*every pair competing*");
            Capacity.KeptPerExpert(DropPolicy.ByWeight, 2, mine).Should().Equal(2L, 1L);
        }

        private static long[,] Sum(IEnumerable<long[,]> counts, int experts, int topK)
        {
            var sum = new long[experts, topK];
            foreach (var c in counts)
                for (var e = 0; e < experts; e++)
                    for (var j = 0; j < topK; j++) sum[e, j] += c[e, j];
            return sum;
        }
    }
}
