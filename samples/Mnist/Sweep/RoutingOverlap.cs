using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>
    /// Do confusable digits share experts? Compares, over all pairs of classes, how much their routing overlaps with how
    /// often they are confused with each other.
    /// </summary>
    public static class RoutingOverlap
    {
        /// <summary>
        /// Σₑ min(sₑ|a, sₑ|b), where sₑ|c is the share of class c's assignments that expert e took: 1 when both classes
        /// are routed identically, 0 when they use disjoint experts.
        /// </summary>
        /// <param name="shares">[E, C] routing shares, each column summing to 1.</param>
        /// <param name="a">First class.</param>
        /// <param name="b">Second class.</param>
        public static double Overlap(double[,] shares, int a, int b)
        {
            ArgumentNullException.ThrowIfNull(shares);
            double sum = 0;
            for (var e = 0; e < shares.GetLength(0); e++) sum += Math.Min(shares[e, a], shares[e, b]);
            return sum;
        }

        /// <summary>Confusion[a, b] + Confusion[b, a]: how often the two classes are mistaken for each other.</summary>
        public static long Confusions(long[,] confusion, int a, int b)
        {
            ArgumentNullException.ThrowIfNull(confusion);
            return confusion[a, b] + confusion[b, a];
        }

        /// <summary>All unordered pairs a &lt; b of <paramref name="classes"/> classes.</summary>
        public static IEnumerable<(int A, int B)> Pairs(int classes) =>
            from a in Enumerable.Range(0, classes) from b in Enumerable.Range(a + 1, classes - a - 1) select (a, b);

        /// <summary>Spearman's rank correlation (ties get their mean rank); NaN when either side is constant.</summary>
        /// <param name="x">First sample.</param>
        /// <param name="y">Second sample, same length, at least 2.</param>
        public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
        {
            ArgumentNullException.ThrowIfNull(x);
            ArgumentNullException.ThrowIfNull(y);
            if (x.Count != y.Count || x.Count < 2) throw new ArgumentException("x and y need the same length, at least 2.", nameof(y));
            return Pearson(Ranks(x), Ranks(y));
        }

        private static double[] Ranks(IReadOnlyList<double> values)
        {
            var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
            var ranks = new double[values.Count];
            for (var i = 0; i < order.Length;)
            {
                var j = i;
                while (j + 1 < order.Length && values[order[j + 1]] == values[order[i]]) j++;
                var mean = (i + j) / 2.0 + 1;
                for (var t = i; t <= j; t++) ranks[order[t]] = mean;
                i = j + 1;
            }
            return ranks;
        }

        private static double Pearson(double[] x, double[] y)
        {
            var mx = x.Average();
            var my = y.Average();
            double sxy = 0, sxx = 0, syy = 0;
            for (var i = 0; i < x.Length; i++)
            {
                sxy += (x[i] - mx) * (y[i] - my);
                sxx += (x[i] - mx) * (x[i] - mx);
                syy += (y[i] - my) * (y[i] - my);
            }
            return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
        }
    }
}
