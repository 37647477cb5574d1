using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Where each (token, slot) pair goes: its row in the expert-contiguous order (or −1 when dropped), the pair of each
    /// kept row, and per-expert counts. The device-side equivalent of the core's DispatchPlan.
    /// </summary>
    internal sealed class PairPermutation
    {
        public PairPermutation(Tensor rowOfPair, Tensor pairOfRow, Tensor assignmentOfRow, Tensor expertOffsets, long[] assignedPerExpert, long[] keptPerExpert)
        {
            RowOfPair = rowOfPair;
            ExpertOffsets = expertOffsets;
            PairOfRow = pairOfRow;
            AssignmentOfRow = assignmentOfRow;
            AssignedPerExpert = assignedPerExpert;
            KeptPerExpert = keptPerExpert;
        }

        /// <summary>Row of pair t·k + j in the kept order, or −1 when dropped, int32 [T·k].</summary>
        public Tensor RowOfPair { get; }

        /// <summary>Pair t·k + j of each kept row, int32 [M].</summary>
        public Tensor PairOfRow { get; }

        /// <summary>t·E + e of each kept row, int64 [M] (what expert banks with per-(token, expert) state need).</summary>
        public Tensor AssignmentOfRow { get; }

        /// <summary>First row of each expert in the compact order, int32 [E].</summary>
        public Tensor ExpertOffsets { get; }

        /// <summary>Pairs routed to each expert, before capacity.</summary>
        public long[] AssignedPerExpert { get; }

        /// <summary>Rows each expert processes, after capacity.</summary>
        public long[] KeptPerExpert { get; }

        /// <summary>M, the number of kept rows.</summary>
        public long KeptCount => KeptPerExpert.Sum();

        /// <summary>The permutation of a core dispatch plan (used for the by-weight drop policy, which needs a sort).</summary>
        /// <param name="plan">The plan.</param>
        internal static PairPermutation FromPlan(MoeLayers.DispatchPlan plan)
        {
            var pairs = plan.Tokens * plan.TopK;
            var kept = plan.Order.shape[0];
            var device = plan.Order.device;
            var rowOfPair = full(pairs, -1, ScalarType.Int32, device)
                .index_copy(0, plan.Order, arange(kept, ScalarType.Int32, device));
            var offsets = new int[plan.NumExperts];
            for (var e = 1; e < offsets.Length; e++) offsets[e] = offsets[e - 1] + (int)plan.KeptPerExpert[e - 1];
            return new PairPermutation(rowOfPair, plan.Order.to(ScalarType.Int32), plan.AssignmentOfKept, tensor(offsets, device: device),
                plan.AssignedPerExpert, plan.KeptPerExpert);
        }
    }
}
