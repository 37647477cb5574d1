using System;
using System.Linq;
using MoeLayers.Internal;
using static TorchSharp.torch;

namespace MoeLayers.Dispatch
{
    /// <summary>
    /// Where each (token, slot) pair goes: kept pairs in expert-contiguous order (a stable counting sort, so ties keep
    /// token order), per-expert counts before and after capacity, and the index tensors the dispatch strategies gather
    /// with. The integer bookkeeping runs on the host: for T·k in the thousands a counting sort in managed code costs
    /// microseconds, where the same work as a dozen tensor ops costs a dozen dispatch overheads (and their autograd nodes).
    /// </summary>
    internal sealed class DispatchPlan
    {
        private readonly Device _device;
        private readonly long[] _order;
        private readonly long[] _expertOfKept;
        private readonly long[] _rankOfKept;
        private readonly long[] _positionOfPair;
        private Tensor? _orderTensor;
        private Tensor? _tokenOfKept;
        private Tensor? _expertOfKeptTensor;

        private DispatchPlan(int numExperts, int topK, long tokens, long[] order, long[] expertOfKept, long[] rankOfKept,
            long[] positionOfPair, long[] assigned, long[] kept, long? capacity, Device device)
        {
            NumExperts = numExperts;
            TopK = topK;
            Tokens = tokens;
            _order = order;
            _expertOfKept = expertOfKept;
            _rankOfKept = rankOfKept;
            _positionOfPair = positionOfPair;
            AssignedPerExpert = assigned;
            KeptPerExpert = kept;
            Capacity = capacity;
            _device = device;
        }

        public int NumExperts { get; }

        public int TopK { get; }

        public long Tokens { get; }

        /// <summary>Pairs routed to each expert, before capacity.</summary>
        public long[] AssignedPerExpert { get; }

        /// <summary>Pairs each expert processes, after capacity.</summary>
        public long[] KeptPerExpert { get; }

        /// <summary>Capacity C, or null when dropless.</summary>
        public long? Capacity { get; }

        public long KeptCount => _order.Length;

        public long DroppedCount => Tokens * TopK - KeptCount;

        /// <summary>Flat pair indices t·k + j of kept pairs, expert-contiguous [M].</summary>
        public Tensor Order => _orderTensor ??= tensor(_order, ScalarType.Int64, _device);

        /// <summary>Token of each kept pair, in <see cref="Order"/> [M].</summary>
        public Tensor TokenOfKept => _tokenOfKept ??= tensor(_order.Select(p => p / TopK).ToArray(), ScalarType.Int64, _device);

        /// <summary>Expert of each kept pair, in <see cref="Order"/> [M].</summary>
        public Tensor ExpertOfKept => _expertOfKeptTensor ??= tensor(_expertOfKept, ScalarType.Int64, _device);

        /// <summary>Flat (token, expert) index t·E + e of each kept pair [M].</summary>
        public Tensor AssignmentOfKept =>
            tensor(_order.Select((p, i) => p / TopK * NumExperts + _expertOfKept[i]).ToArray(), ScalarType.Int64, _device);

        /// <summary>Position of each kept pair inside its expert's block [M].</summary>
        public Tensor RankOfKept() => tensor(_rankOfKept, ScalarType.Int64, _device);

        /// <summary>For every pair t·k + j, its row in <see cref="Order"/>, or −1 when dropped.</summary>
        public ReadOnlySpan<long> PositionOfPair => _positionOfPair;

        /// <summary>Builds the plan from routing indices [T, k] (and weights [T, k] for <see cref="DropPolicy.ByWeight"/>).</summary>
        public static DispatchPlan Build(Tensor expertIndices, Tensor combineWeights, int numExperts, long? capacity, DropPolicy policy)
        {
            var tokens = expertIndices.shape[0];
            var topK = (int)expertIndices.shape[1];
            var experts = HostCopy.ToArray<long>(expertIndices);
            var pairs = experts.Length;

            var assigned = new long[numExperts];
            foreach (var e in experts)
            {
                if ((ulong)e >= (ulong)numExperts)
                    throw new ArgumentOutOfRangeException(nameof(expertIndices), e, $"expert indices must be in [0, {numExperts}); got {e}.");
                assigned[e]++;
            }

            // Stable counting sort: pair p goes to start[e] + (pairs of e before p).
            var start = new long[numExperts];
            for (var e = 1; e < numExperts; e++) start[e] = start[e - 1] + assigned[e - 1];
            var sorted = new long[pairs];
            var next = (long[])start.Clone();
            for (long p = 0; p < pairs; p++) sorted[next[experts[p]]++] = p;

            var overflow = capacity.HasValue && assigned.Any(c => c > capacity.Value);
            var kept = overflow ? assigned.Select(a => Math.Min(a, capacity!.Value)).ToArray() : assigned;
            if (overflow && policy == DropPolicy.ByWeight)
            {
                var weights = HostCopy.ToArray<float>(combineWeights.detach().to(ScalarType.Float32));
                for (var e = 0; e < numExperts; e++)
                {
                    // Within an expert's block: weight descending, then position ascending.
                    Array.Sort(sorted, (int)start[e], (int)assigned[e],
                        System.Collections.Generic.Comparer<long>.Create((a, b) =>
                        {
                            var byWeight = weights[b].CompareTo(weights[a]);
                            return byWeight != 0 ? byWeight : a.CompareTo(b);
                        }));
                }
            }

            var keptCount = kept.Sum();
            var order = new long[keptCount];
            var expertOfKept = new long[keptCount];
            var rankOfKept = new long[keptCount];
            var positionOfPair = new long[pairs];
            Array.Fill(positionOfPair, -1L);
            long row = 0;
            for (var e = 0; e < numExperts; e++)
            {
                for (long r = 0; r < kept[e]; r++, row++)
                {
                    var pair = sorted[start[e] + r];
                    order[row] = pair;
                    expertOfKept[row] = e;
                    rankOfKept[row] = r;
                    positionOfPair[pair] = row;
                }
            }
            return new DispatchPlan(numExperts, topK, tokens, order, expertOfKept, rankOfKept, positionOfPair, assigned, kept,
                capacity, expertIndices.device);
        }

        /// <summary>
        /// Padded layout with C = <paramref name="capacity"/> rows per expert: for every buffer row the token it reads
        /// (padding rows read token 0: their outputs are never gathered, so they get no gradient), and for every pair its
        /// buffer row (dropped pairs read row 0 and must be masked by the caller).
        /// </summary>
        public (Tensor TokenOfSlot, Tensor SlotOfPair, Tensor AssignmentOfSlot) PaddedLayout(long capacity)
        {
            var slots = NumExperts * capacity;
            var tokenOfSlot = new long[slots];
            var assignmentOfSlot = new long[slots];
            var slotOfKept = new long[_order.Length];
            for (var i = 0; i < _order.Length; i++)
            {
                var slot = _expertOfKept[i] * capacity + _rankOfKept[i];
                var token = _order[i] / TopK;
                tokenOfSlot[slot] = token;
                assignmentOfSlot[slot] = token * NumExperts + _expertOfKept[i];
                slotOfKept[i] = slot;
            }
            var slotOfPair = new long[_positionOfPair.Length];
            for (var p = 0; p < slotOfPair.Length; p++) slotOfPair[p] = _positionOfPair[p] < 0 ? 0 : slotOfKept[_positionOfPair[p]];
            return (tensor(tokenOfSlot, ScalarType.Int64, _device), tensor(slotOfPair, ScalarType.Int64, _device),
                tensor(assignmentOfSlot, ScalarType.Int64, _device));
        }

        /// <summary>Row of <see cref="Order"/> for each pair, with dropped pairs pointing at row <paramref name="droppedRow"/>.</summary>
        public Tensor InversePermutation(long droppedRow) =>
            tensor(_positionOfPair.Select(r => r < 0 ? droppedRow : r).ToArray(), ScalarType.Int64, _device);

        /// <summary>1 for kept pairs, 0 for dropped, [T, k]; null when nothing was dropped.</summary>
        public Tensor? KeepMask(ScalarType dtype)
        {
            if (DroppedCount == 0) return null;
            return tensor(_positionOfPair.Select(r => r < 0 ? 0f : 1f).ToArray(), ScalarType.Float32, _device)
                .reshape(Tokens, TopK).to(dtype);
        }
    }
}
