using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Accumulates an experts × labels matrix of (token, slot) assignments: how often expert e was chosen for a token of
    /// class c. The matrix behind specialization heatmaps (MNIST digits, characters, ...).
    /// </summary>
    public sealed class ExpertAssignmentCounter
    {
        private readonly long[,] _counts;

        /// <summary>Creates an empty counter.</summary>
        /// <param name="numExperts">E, at least 1.</param>
        /// <param name="numLabels">Number of label classes, at least 1.</param>
        public ExpertAssignmentCounter(int numExperts, int numLabels)
        {
            Guard.Positive(numExperts, nameof(numExperts));
            Guard.Positive(numLabels, nameof(numLabels));
            _counts = new long[numExperts, numLabels];
        }

        /// <summary>Number of experts E.</summary>
        public int NumExperts => _counts.GetLength(0);

        /// <summary>Number of labels.</summary>
        public int NumLabels => _counts.GetLength(1);

        /// <summary>Counts[e, c]: assignments of tokens with label c to expert e.</summary>
        public long this[int expert, int label] => _counts[expert, label];

        /// <summary>Adds a batch: chosen experts [T, k] (or [T]) and labels [T].</summary>
        /// <param name="expertIndices">int64 expert indices, [T, k] or [T].</param>
        /// <param name="labels">Integer labels [T], each in [0, numLabels).</param>
        public void Add(Tensor expertIndices, Tensor labels)
        {
            var tokens = labels.shape.Length == 1 ? labels.shape[0] : -1;
            if (tokens < 0) throw new ArgumentException($"labels must have shape [T]; got {Guard.Shape(labels)}.", nameof(labels));
            var experts2d = expertIndices.dim() == 1 ? expertIndices.unsqueeze(1) : expertIndices;
            Guard.HasShape(experts2d, nameof(expertIndices), tokens, -1);
            var e = HostCopy.ToArray<long>(experts2d.to(ScalarType.Int64));
            var l = HostCopy.ToArray<long>(labels.to(ScalarType.Int64));
            var k = (int)experts2d.shape[1];
            for (var t = 0; t < tokens; t++)
            {
                var label = l[t];
                if (label < 0 || label >= NumLabels)
                    throw new ArgumentOutOfRangeException(nameof(labels), label, $"labels must be in [0, {NumLabels}); got {label} at position {t}.");
                for (var j = 0; j < k; j++)
                {
                    var expert = e[t * k + j];
                    if (expert < 0 || expert >= NumExperts)
                        throw new ArgumentOutOfRangeException(nameof(expertIndices), expert, $"expert indices must be in [0, {NumExperts}); got {expert}.");
                    _counts[expert, label]++;
                }
            }
        }

        /// <summary>A copy of the matrix [E, labels].</summary>
        public long[,] ToArray() => (long[,])_counts.Clone();

        /// <summary>Each label's column normalized to sum to 1 (the share of that label's assignments each expert took).</summary>
        public double[,] FractionsPerLabel()
        {
            var result = new double[NumExperts, NumLabels];
            for (var c = 0; c < NumLabels; c++)
            {
                long total = 0;
                for (var e = 0; e < NumExperts; e++) total += _counts[e, c];
                for (var e = 0; e < NumExperts; e++) result[e, c] = total == 0 ? 0 : (double)_counts[e, c] / total;
            }
            return result;
        }
    }
}
