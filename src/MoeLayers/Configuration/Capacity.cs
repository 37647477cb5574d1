using System;
using System.Globalization;

namespace MoeLayers
{
    /// <summary>
    /// Expert capacity: C = ceil(cf · k · T / E), clamped to [minCapacity, T]; and how many pairs each expert keeps under it
    /// (<see cref="KeptPerExpert"/>), the one rule that the local plan and the expert-parallel plan both apply.
    /// </summary>
    internal static class Capacity
    {
        /// <summary>
        /// Returns the capacity per expert, or null (dropless) when <paramref name="capacityFactor"/> is null. The product is
        /// computed exactly on the decimal value of cf as written (its shortest round-trip form), so cf = 1.1, T = 100,
        /// k = 1, E = 10 gives 11 where floating point gives ceil(11.000000000000002) = 12.
        /// </summary>
        /// <param name="capacityFactor">Capacity factor cf &gt; 0, or null for dropless routing.</param>
        /// <param name="tokens">Tokens T in the batch that take part in routing (padding excluded).</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="minCapacity">Lower bound on C (at least 1).</param>
        public static long? Compute(double? capacityFactor, long tokens, int topK, int numExperts, int minCapacity)
        {
            if (capacityFactor is null) return null;
            var cf = capacityFactor.Value;
            if (!(cf > 0) || double.IsInfinity(cf))
                throw new ArgumentOutOfRangeException(nameof(capacityFactor), cf, $"capacityFactor must be a finite number > 0; got {cf}.");
            if (minCapacity < 1)
                throw new ArgumentOutOfRangeException(nameof(minCapacity), minCapacity, $"minCapacity must be at least 1; got {minCapacity}.");
            Guard.Positive(topK, nameof(topK));
            Guard.Positive(numExperts, nameof(numExperts));
            if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"tokens must be at least 0; got {tokens}.");
            var upper = Math.Max(tokens, 1);
            return Math.Min(Math.Max(CeilingOfShare(cf, tokens * topK, numExperts, upper), minCapacity), upper);
        }

        /// <summary>ceil(cf · pairs / E) in exact decimal arithmetic, or <paramref name="atLeast"/> when it is larger still.</summary>
        private static long CeilingOfShare(double cf, long pairs, int numExperts, long atLeast)
        {
            decimal factor;
            try
            {
                factor = decimal.Parse(cf.ToString("R", CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture);
            }
            catch (OverflowException)
            {
                return atLeast; // cf beyond 7.9e28: every token fits
            }
            if (factor >= numExperts) return atLeast; // cf·k·T/E ≥ k·T ≥ T
            var numerator = factor * pairs; // < E · pairs: no overflow for any long pairs and int E
            var quotient = decimal.Floor(numerator / numExperts);
            if (quotient * numExperts < numerator) quotient += 1;
            return quotient >= atLeast ? atLeast : (long)quotient;
        }

        /// <summary>
        /// Pairs each expert keeps of one batch under capacity C (null: all), given the batches before it in a batch that spans
        /// ranks (rank order). Counts are per (expert e, choice j) [E, k]: <paramref name="mine"/>, <paramref name="before"/>
        /// (null: none) and <paramref name="total"/> (null: this batch alone). ByPosition keeps e's first C pairs:
        /// clamp(C − Σⱼ before[e, j], 0, Σⱼ mine[e, j]). ByChoiceThenPosition keeps by (choice, position):
        /// Σⱼ clamp(C − Σ_{j'&lt;j} total[e, j'] − before[e, j], 0, mine[e, j]), the first pairs in that order since a choice is
        /// cut only once every later one is. ByWeight keeps the C heaviest, min(C, Σⱼ mine[e, j]), and must stand alone: a
        /// batch spanning ranks lacks the other ranks' weights.
        /// </summary>
        public static long[] KeptPerExpert(DropPolicy policy, long? capacity, long[,] mine, long[,]? before = null, long[,]? total = null)
        {
            var (experts, choices) = (mine.GetLength(0), mine.GetLength(1));
            total ??= mine;
            if (policy == DropPolicy.ByWeight && before is not null && capacity is not null)
                throw new NotSupportedException("DropPolicy.ByWeight needs the weights of every pair competing for an expert, which a batch spanning ranks does not have.");
            var kept = new long[experts];
            for (var e = 0; e < experts; e++)
            {
                long assigned = 0, earlier = 0;
                for (var j = 0; j < choices; j++)
                {
                    assigned += mine[e, j];
                    earlier += before?[e, j] ?? 0;
                }
                if (capacity is not { } c)
                {
                    kept[e] = assigned;
                }
                else if (policy != DropPolicy.ByChoiceThenPosition)
                {
                    kept[e] = Math.Clamp(c - earlier, 0, assigned);
                }
                else
                {
                    long earlierChoices = 0;
                    for (var j = 0; j < choices; j++)
                    {
                        kept[e] += Math.Clamp(c - earlierChoices - (before?[e, j] ?? 0), 0, mine[e, j]);
                        earlierChoices += total[e, j];
                    }
                }
            }
            return kept;
        }
    }
}
