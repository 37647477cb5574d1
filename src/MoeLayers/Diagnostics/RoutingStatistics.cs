using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers
{
    /// <summary>Routing figures of one forward pass of an MoE layer, on the host. Immutable.</summary>
    public sealed class RoutingStatistics
    {
        /// <summary>Creates statistics from per-expert counts (copied).</summary>
        /// <param name="assignedPerExpert">(token, slot) pairs the router sent to each expert, padding excluded.</param>
        /// <param name="keptPerExpert">Pairs each expert kept after capacity.</param>
        /// <param name="capacity">Capacity per expert, or null when dropless.</param>
        /// <param name="routerEntropy">Mean entropy of the routing distribution per token, in nats.</param>
        /// <param name="loadBalancingLoss">The load-balancing loss before its coefficient (0 when disabled).</param>
        /// <param name="zLoss">The router z-loss before its coefficient (0 when disabled).</param>
        /// <param name="balanceBias">The aux-loss-free balance bias per expert at this forward, or null when off.</param>
        /// <param name="expertGroups">Expert groups of group-limited routing (1 for none); must divide the expert count.</param>
        public RoutingStatistics(IEnumerable<long> assignedPerExpert, IEnumerable<long> keptPerExpert, long? capacity, double routerEntropy,
            double loadBalancingLoss, double zLoss, IEnumerable<float>? balanceBias = null, int expertGroups = 1)
        {
            ArgumentNullException.ThrowIfNull(assignedPerExpert);
            ArgumentNullException.ThrowIfNull(keptPerExpert);
            var assigned = assignedPerExpert.ToArray();
            var kept = keptPerExpert.ToArray();
            if (assigned.Length != kept.Length)
                throw new ArgumentException($"keptPerExpert must have one entry per expert ({assigned.Length}); got {kept.Length}.", nameof(keptPerExpert));
            for (var e = 0; e < assigned.Length; e++)
            {
                if (kept[e] < 0 || kept[e] > assigned[e])
                    throw new ArgumentException($"keptPerExpert[{e}] must be in [0, assignedPerExpert[{e}] = {assigned[e]}]; got {kept[e]}.", nameof(keptPerExpert));
            }
            if (expertGroups < 1 || assigned.Length % expertGroups != 0)
                throw new ArgumentException($"expertGroups must divide the {assigned.Length} experts; got {expertGroups}.", nameof(expertGroups));
            var bias = balanceBias?.ToArray();
            if (bias is not null && bias.Length != assigned.Length)
                throw new ArgumentException($"balanceBias must have one entry per expert ({assigned.Length}); got {bias.Length}.", nameof(balanceBias));
            BalanceBias = bias is null ? null : Array.AsReadOnly(bias);
            ExpertGroups = expertGroups;
            var perGroup = assigned.Length / expertGroups;
            AssignedPerGroup = Array.AsReadOnly(Enumerable.Range(0, expertGroups).Select(g => assigned.Skip(g * perGroup).Take(perGroup).Sum()).ToArray());
            AssignedPerExpert = Array.AsReadOnly(assigned);
            KeptPerExpert = Array.AsReadOnly(kept);
            Capacity = capacity;
            RouterEntropy = routerEntropy;
            LoadBalancingLoss = loadBalancingLoss;
            ZLoss = zLoss;
            Assignments = assigned.Sum();
            DroppedAssignments = Assignments - kept.Sum();
        }

        /// <summary>(token, slot) pairs the router sent to each expert (the load histogram), padding excluded.</summary>
        public IReadOnlyList<long> AssignedPerExpert { get; }

        /// <summary>Pairs each expert kept after capacity.</summary>
        public IReadOnlyList<long> KeptPerExpert { get; }

        /// <summary>Capacity per expert, or null when dropless.</summary>
        public long? Capacity { get; }

        /// <summary>k times the number of real tokens: all (token, slot) pairs routed.</summary>
        public long Assignments { get; }

        /// <summary>Pairs dropped because their expert was full.</summary>
        public long DroppedAssignments { get; }

        /// <summary>Dropped pairs over all pairs, in [0, 1].</summary>
        public double DroppedFraction => Assignments == 0 ? 0 : (double)DroppedAssignments / Assignments;

        /// <summary>Experts that received no pair.</summary>
        public int UnusedExperts => AssignedPerExpert.Count(c => c == 0);

        /// <summary>Mean per-token entropy of the routing probabilities, in nats (ln E when uniform).</summary>
        public double RouterEntropy { get; }

        /// <summary>Busiest expert's load over the mean load (1 when balanced, E when one expert takes everything).</summary>
        public double MaxMeanLoadRatio =>
            Assignments == 0 ? 0 : AssignedPerExpert.Max() / ((double)Assignments / AssignedPerExpert.Count);

        /// <summary>The load-balancing loss before its coefficient (0 when disabled).</summary>
        public double LoadBalancingLoss { get; }

        /// <summary>The router z-loss before its coefficient (0 when disabled).</summary>
        public double ZLoss { get; }

        /// <summary>The aux-loss-free balance bias b per expert at this forward, or null when the router has none.</summary>
        public IReadOnlyList<float>? BalanceBias { get; }

        /// <summary>Expert groups of group-limited routing (1 when the router has none).</summary>
        public int ExpertGroups { get; }

        /// <summary>Pairs routed into each expert group (the group choices), [<see cref="ExpertGroups"/>].</summary>
        public IReadOnlyList<long> AssignedPerGroup { get; }

        /// <summary>Coefficient of variation of the per-expert load (standard deviation over mean; 0 when balanced).</summary>
        public double LoadCoefficientOfVariation
        {
            get
            {
                if (Assignments == 0) return 0;
                var mean = (double)Assignments / AssignedPerExpert.Count;
                var variance = AssignedPerExpert.Sum(c => (c - mean) * (c - mean)) / AssignedPerExpert.Count;
                return Math.Sqrt(variance) / mean;
            }
        }

        /// <summary>
        /// Statistics accumulated over several forwards (steps, or layers with the same number of experts): counts summed,
        /// entropy and losses averaged weighted by each one's assignments, capacity kept only when all agree, the bias of
        /// the last one.
        /// </summary>
        /// <param name="statistics">At least one set of statistics with the same expert count and groups.</param>
        public static RoutingStatistics Sum(IEnumerable<RoutingStatistics> statistics)
        {
            ArgumentNullException.ThrowIfNull(statistics);
            var all = statistics.ToArray();
            if (all.Length == 0) throw new ArgumentException("statistics must hold at least one entry.", nameof(statistics));
            var experts = all[0].AssignedPerExpert.Count;
            if (all.Any(s => s.AssignedPerExpert.Count != experts || s.ExpertGroups != all[0].ExpertGroups))
                throw new ArgumentException($"statistics must all have {experts} experts in {all[0].ExpertGroups} group(s).", nameof(statistics));
            var assigned = new long[experts];
            var kept = new long[experts];
            foreach (var s in all)
            {
                for (var e = 0; e < experts; e++)
                {
                    assigned[e] += s.AssignedPerExpert[e];
                    kept[e] += s.KeptPerExpert[e];
                }
            }
            var total = all.Sum(s => (double)s.Assignments);
            double Mean(Func<RoutingStatistics, double> value) => total == 0 ? all.Average(value) : all.Sum(s => value(s) * s.Assignments) / total;
            var capacity = all.All(s => s.Capacity == all[0].Capacity) ? all[0].Capacity : null;
            return new RoutingStatistics(assigned, kept, capacity, Mean(s => s.RouterEntropy), Mean(s => s.LoadBalancingLoss),
                Mean(s => s.ZLoss), all[^1].BalanceBias, all[0].ExpertGroups);
        }

        /// <inheritdoc />
        public override string ToString() =>
            $"assigned/expert [{string.Join(", ", AssignedPerExpert)}], dropped {DroppedFraction:P1}, unused {UnusedExperts}, " +
            $"entropy {RouterEntropy:F3}, max/mean {MaxMeanLoadRatio:F2}";
    }
}
