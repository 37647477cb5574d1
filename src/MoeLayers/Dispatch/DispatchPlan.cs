using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Where each (token, slot) pair goes: kept pairs in expert-contiguous order (a stable counting sort, so ties keep
    /// token order), per-expert counts before and after capacity, and the index tensors the dispatch strategies gather
    /// with. Pairs of padding tokens, and pairs an expert choice router did not select, take part in nothing: they are not
    /// assigned, take no capacity and are not run.
    /// The integer bookkeeping runs on the host: for T·k in the thousands a counting sort in managed code costs
    /// microseconds, where the same work as a dozen tensor ops costs a dozen dispatch overheads (and their autograd nodes).
    /// </summary>
    internal sealed class DispatchPlan(int numExperts, int topK, long tokens, long[] order, long[] expertOfKept, long[] positionInExpert,
        long[] rowOfPair, long[] assigned, long[] kept, long? capacity, bool weightsInputs, Device device)
    {
        private readonly long[] _order = order;
        private readonly long[] _expertOfKept = expertOfKept;
        private readonly long[] _positionInExpert = positionInExpert;
        private readonly long[] _rowOfPair = rowOfPair;
        private readonly Device _device = device;
        private Tensor? _orderTensor;
        private Tensor? _tokenOfKept;

        public int NumExperts { get; } = numExperts;

        public int TopK { get; } = topK;

        public long Tokens { get; } = tokens;

        /// <summary>Pairs routed to each expert, before capacity (padding excluded).</summary>
        public long[] AssignedPerExpert { get; } = assigned;

        /// <summary>Pairs each expert processes, after capacity.</summary>
        public long[] KeptPerExpert { get; } = kept;

        /// <summary>Capacity C, or null when dropless.</summary>
        public long? Capacity { get; } = capacity;

        /// <summary>
        /// Whether each pair's weight scales its row before the expert (<see cref="DispatchRules.WeightExpertInputs"/>) and
        /// the combine sums the outputs with weight 1; else the combine weighs the outputs.
        /// </summary>
        public bool WeightsInputs { get; } = weightsInputs;

        /// <summary>Pairs the experts run.</summary>
        public long KeptCount => _order.Length;

        /// <summary>Pairs that are not run: dropped by capacity, or belonging to padding tokens.</summary>
        public long SkippedCount => Tokens * TopK - KeptCount;

        /// <summary>Flat pair indices t·k + j of kept pairs, expert-contiguous [M].</summary>
        public Tensor Order => _orderTensor ??= tensor(_order, ScalarType.Int64, _device);

        /// <summary>Token of each kept pair, in <see cref="Order"/> [M].</summary>
        private Tensor TokenOfKept => _tokenOfKept ??= tensor(_order.Select(p => p / TopK).ToArray(), ScalarType.Int64, _device);

        /// <summary>Flat (token, expert) index t·E + e of each kept pair [M].</summary>
        public Tensor AssignmentOfKept =>
            tensor(_order.Select((p, i) => p / TopK * NumExperts + _expertOfKept[i]).ToArray(), ScalarType.Int64, _device);

        /// <summary>Builds the plan from routing indices [T, k] and weights [T, k] (read for <see cref="DropPolicy.ByWeight"/>).</summary>
        /// <param name="expertIndices">Chosen experts, int64 [T, k].</param>
        /// <param name="combineWeights">Their weights [T, k].</param>
        /// <param name="numExperts">E.</param>
        /// <param name="rules">Capacity, drop policy and token mask.</param>
        /// <param name="selectedPairs">Which pairs are routed at all, bool [T, k] (expert choice), or null for all.</param>
        /// <param name="position">Where this batch stands in a batch spanning ranks (expert parallelism: capacity counts
        /// the pairs of earlier ranks first), or null for a batch of its own.</param>
        public static DispatchPlan Build(Tensor expertIndices, Tensor combineWeights, int numExperts, DispatchRules rules,
            Tensor? selectedPairs = null, BatchPosition? position = null)
        {
            var tokens = expertIndices.shape[0];
            var topK = (int)expertIndices.shape[1];
            var experts = HostCopy.ToArray<long>(expertIndices);
            var pairs = experts.Length;
            if (rules.Mask is { } checkedMask && checkedMask.Tokens != tokens)
                throw new ArgumentException($"the token mask covers {checkedMask.Tokens} tokens but the routing has {tokens}.", nameof(rules));
            var isReal = rules.Mask is { HasPadding: true } mask ? mask.IsReal.ToArray() : null;
            var isSelected = selectedPairs is null ? null : HostCopy.ToArray<bool>(selectedPairs);
            bool Routed(long p) => (isReal is null || isReal[p / topK]) && (isSelected is null || isSelected[p]);

            var perChoice = PairCounts(experts, topK, numExperts, Routed);
            var assigned = new long[numExperts];
            for (var e = 0; e < numExperts; e++)
                for (var j = 0; j < topK; j++) assigned[e] += perChoice[e, j];

            // Stable counting sort: pair p goes to start[e] + (pairs of e before p).
            var start = new long[numExperts];
            for (var e = 1; e < numExperts; e++) start[e] = start[e - 1] + assigned[e - 1];
            var sorted = new long[assigned.Sum()];
            var next = (long[])start.Clone();
            for (long p = 0; p < pairs; p++)
            {
                if (Routed(p)) sorted[next[experts[p]]++] = p;
            }

            var kept = MoeLayers.Capacity.KeptPerExpert(rules.DropPolicy, rules.Capacity, perChoice, position?.Before, position?.Total);
            if (!kept.SequenceEqual(assigned) && PriorityOrder(rules.DropPolicy, combineWeights, topK) is { } priority)
            {
                for (var e = 0; e < numExperts; e++) Array.Sort(sorted, (int)start[e], (int)assigned[e], priority);
            }

            var keptCount = kept.Sum();
            var order = new long[keptCount];
            var expertOfKept = new long[keptCount];
            var positionInExpert = new long[keptCount];
            var rowOfPair = new long[pairs];
            Array.Fill(rowOfPair, -1L);
            long row = 0;
            for (var e = 0; e < numExperts; e++)
            {
                for (long r = 0; r < kept[e]; r++, row++)
                {
                    var pair = sorted[start[e] + r];
                    order[row] = pair;
                    expertOfKept[row] = e;
                    positionInExpert[row] = r;
                    rowOfPair[pair] = row;
                }
            }
            return new DispatchPlan(numExperts, topK, tokens, order, expertOfKept, positionInExpert, rowOfPair, assigned, kept,
                rules.Capacity, rules.WeightExpertInputs, expertIndices.device);
        }

        /// <summary>Pairs per (expert, choice) [E, k] of routing indices [T, k], every pair counted (no mask, no selection).</summary>
        /// <param name="expertIndices">Chosen experts, int64 [T, k].</param>
        /// <param name="numExperts">E.</param>
        public static long[,] PairCounts(Tensor expertIndices, int numExperts) =>
            PairCounts(HostCopy.ToArray<long>(expertIndices), (int)expertIndices.shape[1], numExperts, _ => true);

        private static long[,] PairCounts(long[] experts, int topK, int numExperts, Func<long, bool> routed)
        {
            var counts = new long[numExperts, topK];
            for (long p = 0; p < experts.Length; p++)
            {
                if ((ulong)experts[p] >= (ulong)numExperts)
                    throw new ArgumentOutOfRangeException("expertIndices", experts[p], $"expert indices must be in [0, {numExperts}); got {experts[p]}.");
                if (routed(p)) counts[experts[p], p % topK]++;
            }
            return counts;
        }

        /// <summary>The order in which an overflowing expert keeps its pairs, or null for token order (the sort's own).</summary>
        private static IComparer<long>? PriorityOrder(DropPolicy policy, Tensor combineWeights, int topK)
        {
            switch (policy)
            {
                case DropPolicy.ByWeight:
                    var weights = HostCopy.ToArray<float>(combineWeights.detach().to(ScalarType.Float32));
                    return Comparer<long>.Create((a, b) =>
                    {
                        var byWeight = weights[b].CompareTo(weights[a]);
                        return byWeight != 0 ? byWeight : a.CompareTo(b);
                    });
                case DropPolicy.ByChoiceThenPosition:
                    return Comparer<long>.Create((a, b) =>
                    {
                        var byChoice = (a % topK).CompareTo(b % topK);
                        return byChoice != 0 ? byChoice : a.CompareTo(b);
                    });
                default:
                    return null;
            }
        }

        /// <summary>
        /// The kept pairs' rows in plan order [M, d], each its token's row of <paramref name="input"/>, scaled by the pair's
        /// weight when <see cref="WeightsInputs"/>: what the experts run on.
        /// </summary>
        /// <param name="input">Tokens [T, d].</param>
        /// <param name="weights">Combine weights [T, k] in the input's dtype.</param>
        public Tensor GatherRows(Tensor input, Tensor weights) => Weighted(input.index_select(0, TokenOfKept), weights, Order);

        /// <summary>
        /// The padded buffer [E, C, d] with C = <paramref name="capacity"/> rows per expert (expert e's r-th kept pair in row
        /// r of block e; padding rows read token 0, their outputs are never gathered, so they get no gradient), rows scaled
        /// as in <see cref="GatherRows"/>; with the buffer row of every pair for <see cref="CombinePadded"/> and the flat
        /// (token, expert) index of every buffer row.
        /// </summary>
        /// <param name="input">Tokens [T, d].</param>
        /// <param name="weights">Combine weights [T, k] in the input's dtype.</param>
        /// <param name="capacity">Rows per expert, at least the largest kept count.</param>
        public (Tensor Buffer, Tensor SlotOfPair, Tensor AssignmentOfSlot) GatherPadded(Tensor input, Tensor weights, long capacity)
        {
            var slots = NumExperts * capacity;
            var tokenOfSlot = new long[slots];
            var pairOfSlot = new long[slots];
            var assignmentOfSlot = new long[slots];
            var slotOfKept = new long[_order.Length];
            for (var i = 0; i < _order.Length; i++)
            {
                var slot = _expertOfKept[i] * capacity + _positionInExpert[i];
                var token = _order[i] / TopK;
                tokenOfSlot[slot] = token;
                pairOfSlot[slot] = _order[i];
                assignmentOfSlot[slot] = token * NumExperts + _expertOfKept[i];
                slotOfKept[i] = slot;
            }
            var slotOfPair = new long[_rowOfPair.Length];
            for (var p = 0; p < slotOfPair.Length; p++) slotOfPair[p] = _rowOfPair[p] < 0 ? 0 : slotOfKept[_rowOfPair[p]];
            var rows = Weighted(input.index_select(0, tensor(tokenOfSlot, ScalarType.Int64, _device)), weights,
                tensor(pairOfSlot, ScalarType.Int64, _device));
            return (rows.view(NumExperts, capacity, input.shape[1]), tensor(slotOfPair, ScalarType.Int64, _device),
                tensor(assignmentOfSlot, ScalarType.Int64, _device));
        }

        /// <summary>Row of <see cref="Order"/> for each pair, with pairs that are not run pointing at row <paramref name="skippedRow"/>.</summary>
        public Tensor InversePermutation(long skippedRow) =>
            tensor(_rowOfPair.Select(r => r < 0 ? skippedRow : r).ToArray(), ScalarType.Int64, _device);

        /// <summary>
        /// The outputs of the kept pairs in plan order [M, out] back to tokens, y [T, out]: each row to its (token, slot)
        /// position (unique indices, no atomics), then the fixed-order sum over the k slots, weighted unless the weights
        /// went into the inputs; pairs that are not run add nothing.
        /// </summary>
        /// <param name="sortedOutput">Expert outputs in <see cref="Order"/> [M, out].</param>
        /// <param name="weights">Combine weights [T, k] in the output's dtype.</param>
        public Tensor Combine(Tensor sortedOutput, Tensor weights)
        {
            var perPair = SkippedCount == 0
                ? sortedOutput.index_select(0, InversePermutation(0))
                : zeros(new[] { Tokens * TopK, sortedOutput.shape[1] }, sortedOutput.dtype, sortedOutput.device).index_copy(0, Order, sortedOutput);
            return SumOverSlots(perPair, WeightsInputs ? null : weights);
        }

        /// <summary>
        /// The padded buffer's outputs [E·C, out] back to tokens, y [T, out], as <see cref="Combine"/>: pairs that are not
        /// run read row 0 of the buffer and are masked out.
        /// </summary>
        /// <param name="slotOutput">Expert outputs in buffer order [E·C, out].</param>
        /// <param name="slotOfPair">Buffer row of each pair, from <see cref="GatherPadded"/>.</param>
        /// <param name="weights">Combine weights [T, k] in the output's dtype.</param>
        public Tensor CombinePadded(Tensor slotOutput, Tensor slotOfPair, Tensor weights)
        {
            var keep = KeepMask(weights.dtype);
            var pairWeights = WeightsInputs ? keep : keep is null ? weights : weights * keep;
            return SumOverSlots(slotOutput.index_select(0, slotOfPair), pairWeights);
        }

        /// <summary>
        /// y_t = Σⱼ w_{t,j}·out_{t,j} over per-pair outputs [T·k, out], or Σⱼ out_{t,j} with no weights: a fixed-order sum
        /// over the k slots (deterministic, no atomics).
        /// </summary>
        private Tensor SumOverSlots(Tensor perPair, Tensor? weights)
        {
            if (TopK == 1) return weights is null ? perPair : perPair * weights;
            var perSlot = perPair.view(Tokens, TopK, perPair.shape[1]);
            return (weights is null ? perSlot : perSlot.mul(weights.unsqueeze(-1))).sum(1);
        }

        /// <summary>Rows gathered for pairs <paramref name="pairs"/>, scaled by those pairs' weights when <see cref="WeightsInputs"/>.</summary>
        private Tensor Weighted(Tensor rows, Tensor weights, Tensor pairs) =>
            WeightsInputs ? rows * weights.reshape(Tokens * TopK).index_select(0, pairs).unsqueeze(1) : rows;

        /// <summary>1 for pairs that are run, 0 for the others, [T, k]; null when every pair is run.</summary>
        private Tensor? KeepMask(ScalarType dtype)
        {
            if (SkippedCount == 0) return null;
            return tensor(_rowOfPair.Select(r => r < 0 ? 0f : 1f).ToArray(), ScalarType.Float32, _device)
                .reshape(Tokens, TopK).to(dtype);
        }
    }
}
