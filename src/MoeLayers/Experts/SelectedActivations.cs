using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The cached low-rank activations a = x·W_down of the selected (token, expert) pairs only, [T·k, r] in pair order
    /// t·k + j, with a lookup from the flat (token, expert) index t·E + e that dispatchers pass as assignments. Built right
    /// after routing so the rows of unselected experts are not carried into dispatch. Dispose it once the experts have run:
    /// autograd keeps what it needs of the gathered rows.
    /// </summary>
    internal sealed class SelectedActivations(Tensor rows, Tensor rowOfAssignment, int lowRank) : IDisposable
    {
        private readonly Tensor _rows = rows;
        private readonly Tensor _rowOfAssignment = rowOfAssignment;

        /// <summary>Rank r (width of each cached row).</summary>
        public int LowRank { get; } = lowRank;

        /// <summary>Number of cached rows, T·k.</summary>
        public long Count => _rows.shape[0];

        /// <summary>
        /// Copies the rows of the chosen experts out of all experts' activations. The caller may dispose
        /// <paramref name="all"/> afterwards: nothing here keeps it alive (autograd may, where the norms need it).
        /// </summary>
        /// <param name="all">All experts' activations [T, E·r], expert e in columns e·r … e·r + r − 1.</param>
        /// <param name="expertIndices">Chosen experts per token, int64 [T, k].</param>
        /// <param name="numExperts">E.</param>
        public static SelectedActivations Select(Tensor all, Tensor expertIndices, int numExperts)
        {
            var tokens = all.shape[0];
            var lowRank = (int)(all.shape[1] / numExperts);
            var pairs = expertIndices.numel();
            using var perAssignment = all.view(tokens * numExperts, lowRank);
            var assignmentOfPair = (arange(tokens, ScalarType.Int64, all.device).unsqueeze(1) * numExperts + expertIndices).reshape(pairs);
            var rows = perAssignment.index_select(0, assignmentOfPair);
            // Unselected (token, expert) entries map to row 0: only padding rows of the padded strategy read them,
            // and their outputs are discarded.
            var rowOfAssignment = zeros(tokens * numExperts, ScalarType.Int64, all.device)
                .index_copy(0, assignmentOfPair, arange(pairs, ScalarType.Int64, all.device));
            return new SelectedActivations(rows, rowOfAssignment, lowRank);
        }

        /// <summary>The cached rows of the given flat (token, expert) indices t·E + e, [n, r].</summary>
        /// <param name="assignments">Flat indices [n]; each must be one of the selected pairs (or padding).</param>
        public Tensor Gather(Tensor assignments)
        {
            using var rows = _rowOfAssignment.index_select(0, assignments);
            return _rows.index_select(0, rows);
        }

        /// <summary>Frees the cached rows now rather than at the end of the caller's dispose scope.</summary>
        public void Dispose()
        {
            _rows.Dispose();
            _rowOfAssignment.Dispose();
        }
    }
}
