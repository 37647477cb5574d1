using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>
    /// The cross-rank drop rule without MPI: three simulated ranks' plans, built from the counts all of them would
    /// gather, against a brute-force one-process selection on the concatenated batch.
    /// </summary>
    public sealed class ExpertParallelPlanTests
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
            var gathered = Enumerable.Range(0, world).Select(r => ExpertParallelPlan.LocalCounts(routing[r], tokens[r], topK, experts)).ToArray();
            var globalTokens = tokens.Sum();
            var capacity = cf is null ? (long?)null : (long)Math.Ceiling(cf.Value * topK * globalTokens / experts);

            // One process: global pair (token, slot), kept if among the first C of its expert in the policy's order.
            var all = routing.SelectMany((experts, r) => experts.Select((e, p) => (Rank: r, Pair: (long)p, Token: tokens.Take(r).Sum() + p / topK, Slot: p % topK, Expert: e))).ToList();
            var expected = new HashSet<(int, long)>();
            foreach (var group in all.GroupBy(x => x.Expert))
            {
                var ordered = policy == DropPolicy.ByPosition ? group.OrderBy(x => x.Token).ThenBy(x => x.Slot) : group.OrderBy(x => x.Slot).ThenBy(x => x.Token);
                foreach (var x in ordered.Take(capacity is { } c ? (int)c : int.MaxValue)) expected.Add((x.Rank, x.Pair));
            }
            if (cf is not null) expected.Count.Should().BeLessThan(all.Count, "the case must drop pairs");

            var plans = Enumerable.Range(0, world).Select(r => ExpertParallelPlan.Build(routing[r], topK, experts, r, gathered, cf, 1, policy)).ToArray();
            var kept = plans.SelectMany((plan, r) => plan.KeptPairs.Select(p => (r, p))).ToHashSet();
            kept.Should().BeEquivalentTo(expected);
            var local = experts / world;
            for (var r = 0; r < world; r++)
            {
                plans[r].Capacity.Should().Be(capacity);
                plans[r].GlobalTokens.Should().Be(globalTokens);
                plans[r].TokenOffset.Should().Be(tokens.Take(r).Sum());
                // Rows are expert-contiguous, so each destination's rows are contiguous and in its experts' order.
                plans[r].KeptPairs.Select(p => routing[r][p]).Should().BeInAscendingOrder();
                for (var q = 0; q < world; q++)
                {
                    plans[r].SendCounts[q].Should().Be(plans[r].KeptPairs.Count(p => routing[r][p] / local == q));
                    plans[q].ReceiveCounts[r].Should().Be(plans[r].SendCounts[q], "what rank {0} receives from {1} is what {1} sends", q, r);
                    plans[q].KeptFrom[r].Sum().Should().Be(plans[r].SendCounts[q]);
                }
                plans[r].KeptGlobal.Sum().Should().Be(expected.Count);
            }
        }
    }
}
