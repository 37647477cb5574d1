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
        public RoutingStatistics(IEnumerable<long> assignedPerExpert, IEnumerable<long> keptPerExpert, long? capacity, double routerEntropy,
            double loadBalancingLoss, double zLoss)
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

        /// <inheritdoc />
        public override string ToString() =>
            $"assigned/expert [{string.Join(", ", AssignedPerExpert)}], dropped {DroppedFraction:P1}, unused {UnusedExperts}, " +
            $"entropy {RouterEntropy:F3}, max/mean {MaxMeanLoadRatio:F2}";
    }
}
