using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// Which of this rank's (token, slot) pairs are kept and where every kept pair travels, from one all-gather of every
    /// rank's token count and per-(expert, slot) pair counts. The ranks' tokens are taken as one batch in rank order (global
    /// token = rank offset + local token), and a pair is kept exactly when one process would keep it on that batch:
    /// <list type="bullet">
    /// <item><see cref="DropPolicy.ByPosition"/>: expert e keeps its first C pairs in global pair order (token, then slot),
    /// so rank r keeps its first clamp(C − Σ_{r'&lt;r} a_{r'}[e], 0, a_r[e]) pairs of e in local order.</item>
    /// <item><see cref="DropPolicy.ByChoiceThenPosition"/>: expert e keeps pairs by (slot, global token), so rank r keeps its
    /// first clamp(C − Σ_{j'&lt;j} A[e, j'] − Σ_{r'&lt;r} c_{r'}[e, j], 0, c_r[e, j]) pairs of (e, slot j) in token order.</item>
    /// </list>
    /// Every rank computes every rank's kept counts from the same gathered numbers, so the receive counts of both
    /// exchanges are known without another collective. Plain host arrays: a few E·k·world longs.
    /// </summary>
    internal sealed class ExpertParallelPlan
    {
        private ExpertParallelPlan(long globalTokens, long tokenOffset, long? capacity, long[] assignedGlobal, long[] keptGlobal,
            long[] keptPairs, long[] sendCounts, long[] receiveCounts, long[][] keptFrom)
        {
            GlobalTokens = globalTokens;
            TokenOffset = tokenOffset;
            Capacity = capacity;
            AssignedGlobal = assignedGlobal;
            KeptGlobal = keptGlobal;
            KeptPairs = keptPairs;
            SendCounts = sendCounts;
            ReceiveCounts = receiveCounts;
            KeptFrom = keptFrom;
        }

        /// <summary>Tokens of all ranks together.</summary>
        public long GlobalTokens { get; }

        /// <summary>Global position of this rank's first token.</summary>
        public long TokenOffset { get; }

        /// <summary>Capacity C from the global token count, or null when dropless.</summary>
        public long? Capacity { get; }

        /// <summary>Pairs routed to each expert over all ranks, before capacity [E].</summary>
        public long[] AssignedGlobal { get; }

        /// <summary>Pairs each expert runs over all ranks [E].</summary>
        public long[] KeptGlobal { get; }

        /// <summary>This rank's kept pairs t·k + j, expert-contiguous (so destination-contiguous), local order within an expert.</summary>
        public long[] KeptPairs { get; }

        /// <summary>Rows this rank sends to each rank in the dispatch exchange.</summary>
        public long[] SendCounts { get; }

        /// <summary>Rows this rank receives from each rank in the dispatch exchange.</summary>
        public long[] ReceiveCounts { get; }

        /// <summary>KeptFrom[s][le]: rows rank s sends for this rank's local expert le.</summary>
        public long[][] KeptFrom { get; }

        /// <summary>This rank's part of the payload every rank gathers: [T, c[e, j] for e, j].</summary>
        public static long[] LocalCounts(long[] experts, long tokens, int topK, int numExperts)
        {
            var payload = new long[1 + numExperts * topK];
            payload[0] = tokens;
            for (long p = 0; p < experts.Length; p++) payload[1 + experts[p] * topK + p % topK]++;
            return payload;
        }

        public static ExpertParallelPlan Build(long[] experts, int topK, int numExperts, int rank, long[][] gathered,
            double? capacityFactor, int minCapacity, DropPolicy dropPolicy)
        {
            var world = gathered.Length;
            var local = numExperts / world;
            long C(long[] payload, int e, int j) => payload[1 + e * topK + j];
            var globalTokens = gathered.Sum(g => g[0]);
            var offset = gathered.Take(rank).Sum(g => g[0]);
            var capacity = MoeLayers.Capacity.Compute(capacityFactor, globalTokens, topK, numExperts, minCapacity);

            var assignedGlobal = new long[numExperts];
            var perChoiceGlobal = new long[numExperts, topK];
            foreach (var g in gathered)
                for (var e = 0; e < numExperts; e++)
                    for (var j = 0; j < topK; j++)
                    {
                        assignedGlobal[e] += C(g, e, j);
                        perChoiceGlobal[e, j] += C(g, e, j);
                    }

            // kept[r][e, j]: how many of rank r's (e, j) pairs run (for ByPosition only the sum over j is meaningful).
            var keptPerExpert = new long[world][];
            var keptPerChoice = new long[world][,];
            var before = new long[numExperts];
            var beforeChoice = new long[numExperts, topK];
            for (var r = 0; r < world; r++)
            {
                keptPerExpert[r] = new long[numExperts];
                keptPerChoice[r] = new long[numExperts, topK];
                for (var e = 0; e < numExperts; e++)
                {
                    long assigned = 0;
                    for (var j = 0; j < topK; j++) assigned += C(gathered[r], e, j);
                    if (capacity is not { } cap)
                    {
                        keptPerExpert[r][e] = assigned;
                    }
                    else if (dropPolicy == DropPolicy.ByPosition)
                    {
                        keptPerExpert[r][e] = Math.Clamp(cap - before[e], 0, assigned);
                    }
                    else
                    {
                        long earlierChoices = 0;
                        for (var j = 0; j < topK; j++)
                        {
                            var kept = Math.Clamp(cap - earlierChoices - beforeChoice[e, j], 0, C(gathered[r], e, j));
                            keptPerChoice[r][e, j] = kept;
                            keptPerExpert[r][e] += kept;
                            earlierChoices += perChoiceGlobal[e, j];
                        }
                    }
                    before[e] += assigned;
                    for (var j = 0; j < topK; j++) beforeChoice[e, j] += C(gathered[r], e, j);
                }
            }

            // This rank's kept pairs, expert-contiguous.
            var byExpert = new List<long>[numExperts];
            for (var e = 0; e < numExperts; e++) byExpert[e] = new List<long>();
            var takenPerExpert = new long[numExperts];
            var takenPerChoice = new long[numExperts, topK];
            for (long p = 0; p < experts.Length; p++)
            {
                var e = (int)experts[p];
                var j = (int)(p % topK);
                bool keep;
                if (capacity is null) keep = true;
                else if (dropPolicy == DropPolicy.ByPosition) keep = takenPerExpert[e] < keptPerExpert[rank][e];
                else keep = takenPerChoice[e, j] < keptPerChoice[rank][e, j];
                if (!keep) continue;
                takenPerExpert[e]++;
                takenPerChoice[e, j]++;
                byExpert[e].Add(p);
            }
            var keptPairs = byExpert.SelectMany(l => l).ToArray();

            var sendCounts = new long[world];
            var receiveCounts = new long[world];
            var keptFrom = new long[world][];
            for (var q = 0; q < world; q++)
            {
                for (var le = 0; le < local; le++) sendCounts[q] += keptPerExpert[rank][q * local + le];
                keptFrom[q] = new long[local];
                for (var le = 0; le < local; le++) keptFrom[q][le] = keptPerExpert[q][rank * local + le];
                receiveCounts[q] = keptFrom[q].Sum();
            }
            var keptGlobal = new long[numExperts];
            for (var r = 0; r < world; r++)
                for (var e = 0; e < numExperts; e++) keptGlobal[e] += keptPerExpert[r][e];
            return new ExpertParallelPlan(globalTokens, offset, capacity, assignedGlobal, keptGlobal, keptPairs, sendCounts, receiveCounts, keptFrom);
        }
    }
}
