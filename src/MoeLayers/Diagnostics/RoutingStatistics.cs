using System;
using System.Linq;

namespace MoeLayers.Diagnostics
{
    /// <summary>Routing figures of one forward pass of an MoE layer, on the host.</summary>
    public sealed class RoutingStatistics
    {
        /// <summary>Creates statistics from per-expert counts.</summary>
        /// <param name="assignedPerExpert">(token, slot) pairs the router sent to each expert.</param>
        /// <param name="processedPerExpert">Pairs each expert processed after capacity.</param>
        /// <param name="capacity">Capacity per expert, or null when dropless.</param>
        /// <param name="routerEntropy">Mean entropy of the routing distribution per token, in nats.</param>
        /// <param name="loadBalancingLoss">The load-balancing loss before its coefficient (0 when disabled).</param>
        /// <param name="zLoss">The router z-loss before its coefficient (0 when disabled).</param>
        public RoutingStatistics(long[] assignedPerExpert, long[] processedPerExpert, long? capacity, double routerEntropy,
            double loadBalancingLoss, double zLoss)
        {
            if (assignedPerExpert.Length != processedPerExpert.Length)
                throw new ArgumentException("assignedPerExpert and processedPerExpert must have one entry per expert.", nameof(processedPerExpert));
            TokensPerExpert = assignedPerExpert;
            ProcessedPerExpert = processedPerExpert;
            Capacity = capacity;
            RouterEntropy = routerEntropy;
            LoadBalancingLoss = loadBalancingLoss;
            ZLoss = zLoss;
            TotalAssignments = assignedPerExpert.Sum();
            DroppedAssignments = TotalAssignments - processedPerExpert.Sum();
        }

        /// <summary>(token, slot) pairs the router sent to each expert (the tokens-per-expert histogram).</summary>
        public long[] TokensPerExpert { get; }

        /// <summary>Pairs each expert actually processed after capacity.</summary>
        public long[] ProcessedPerExpert { get; }

        /// <summary>Capacity per expert, or null when dropless.</summary>
        public long? Capacity { get; }

        /// <summary>k·T, the number of (token, slot) pairs.</summary>
        public long TotalAssignments { get; }

        /// <summary>Pairs dropped because their expert was full.</summary>
        public long DroppedAssignments { get; }

        /// <summary>Dropped pairs over all pairs, in [0, 1].</summary>
        public double DroppedFraction => TotalAssignments == 0 ? 0 : (double)DroppedAssignments / TotalAssignments;

        /// <summary>Experts that received no pair.</summary>
        public int UnusedExperts => TokensPerExpert.Count(c => c == 0);

        /// <summary>Mean per-token entropy of the routing probabilities, in nats (ln E when uniform).</summary>
        public double RouterEntropy { get; }

        /// <summary>Busiest expert's load over the mean load (1 when balanced, E when one expert takes everything).</summary>
        public double MaxMeanLoadRatio =>
            TotalAssignments == 0 ? 0 : TokensPerExpert.Max() / ((double)TotalAssignments / TokensPerExpert.Length);

        /// <summary>The load-balancing loss before its coefficient (0 when disabled).</summary>
        public double LoadBalancingLoss { get; }

        /// <summary>The router z-loss before its coefficient (0 when disabled).</summary>
        public double ZLoss { get; }

        /// <inheritdoc />
        public override string ToString() =>
            $"tokens/expert [{string.Join(", ", TokensPerExpert)}], dropped {DroppedFraction:P1}, unused {UnusedExperts}, " +
            $"entropy {RouterEntropy:F3}, max/mean {MaxMeanLoadRatio:F2}";
    }
}
