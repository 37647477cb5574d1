using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Dispatch
{
    /// <summary>
    /// Where each (token, slot) pair goes: the kept pairs in expert-contiguous order (stable, so ties keep token order),
    /// per-expert counts before and after capacity, and the gather indices. Built once per forward and shared by the
    /// grouped and padded strategies.
    /// </summary>
    internal sealed class DispatchPlan
    {
        private DispatchPlan(int numExperts, int topK, long tokens, Tensor order, Tensor expertOfKept, long[] assigned, long[] kept, long? capacity)
        {
            NumExperts = numExperts;
            TopK = topK;
            Tokens = tokens;
            Order = order;
            ExpertOfKept = expertOfKept;
            AssignedPerExpert = assigned;
            KeptPerExpert = kept;
            Capacity = capacity;
        }

        public int NumExperts { get; }

        public int TopK { get; }

        public long Tokens { get; }

        /// <summary>Flat pair indices t·k + j of kept pairs, expert-contiguous [M].</summary>
        public Tensor Order { get; }

        /// <summary>Expert of each kept pair, in <see cref="Order"/> [M].</summary>
        public Tensor ExpertOfKept { get; }

        /// <summary>Token of each kept pair, in <see cref="Order"/> [M].</summary>
        public Tensor TokenOfKept => Order.div(TopK, rounding_mode: RoundingMode.floor);

        /// <summary>Flat (token, expert) index t·E + e of each kept pair [M].</summary>
        public Tensor AssignmentOfKept => TokenOfKept * NumExperts + ExpertOfKept;

        /// <summary>Pairs routed to each expert, before capacity.</summary>
        public long[] AssignedPerExpert { get; }

        /// <summary>Pairs each expert processes, after capacity.</summary>
        public long[] KeptPerExpert { get; }

        /// <summary>Capacity C, or null when dropless.</summary>
        public long? Capacity { get; }

        public long KeptCount => KeptPerExpert.Sum();

        public long DroppedCount => Tokens * TopK - KeptCount;

        /// <summary>Builds the plan from routing indices [T, k] (and weights [T, k] for <see cref="DropPolicy.ByWeight"/>).</summary>
        public static DispatchPlan Build(Tensor expertIndices, Tensor combineWeights, int numExperts, long? capacity, DropPolicy policy)
        {
            var tokens = expertIndices.shape[0];
            var topK = (int)expertIndices.shape[1];
            var pairs = tokens * topK;
            var flat = expertIndices.reshape(pairs);
            var assigned = ToArray(flat.bincount(null, numExperts));
            var overflow = capacity.HasValue && assigned.Any(c => c > capacity.Value);

            Tensor order;
            if (overflow && policy == DropPolicy.ByWeight)
            {
                // Lexicographic (expert ascending, weight descending, position ascending) via two stable sorts.
                var byWeight = combineWeights.reshape(pairs).detach().sort(0, descending: true, stable: true).Indices;
                order = byWeight.index_select(0, flat.index_select(0, byWeight).sort(0, stable: true).Indices);
            }
            else
            {
                order = flat.sort(0, stable: true).Indices;
            }

            var kept = assigned;
            if (overflow)
            {
                var c = capacity!.Value;
                kept = assigned.Select(a => Math.Min(a, c)).ToArray();
                var expertSorted = flat.index_select(0, order);
                var rank = arange(pairs, int64, flat.device) - Offsets(assigned, flat.device).index_select(0, expertSorted);
                order = order.masked_select(rank.lt(c));
            }
            return new DispatchPlan(numExperts, topK, tokens, order, flat.index_select(0, order), assigned, kept, capacity);
        }

        /// <summary>Position of each kept pair inside its expert's block [M].</summary>
        public Tensor RankOfKept() =>
            arange(Order.shape[0], int64, Order.device) - Offsets(KeptPerExpert, Order.device).index_select(0, ExpertOfKept);

        private static Tensor Offsets(long[] counts, Device device)
        {
            var offsets = new long[counts.Length];
            for (var e = 1; e < counts.Length; e++) offsets[e] = offsets[e - 1] + counts[e - 1];
            return tensor(offsets, int64, device);
        }

        private static long[] ToArray(Tensor t)
        {
            using var cpu = t.cpu();
            return cpu.data<long>().ToArray();
        }
    }
}
