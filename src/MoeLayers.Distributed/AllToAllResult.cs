using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>What <see cref="ICommunicator.AllToAll"/> received: the rows from every rank, in rank order.</summary>
    public sealed class AllToAllResult
    {
        private readonly long[] _receiveCounts;
        private readonly long[] _receiveOffsets;

        /// <summary>Creates a result; <paramref name="receiveCounts"/> must sum to the rows of <paramref name="rows"/>.</summary>
        /// <param name="rows">The received rows, <c>[Σ receiveCounts, trailing...]</c>.</param>
        /// <param name="receiveCounts">Rows received from each rank, indexed by source rank.</param>
        public AllToAllResult(Tensor rows, IReadOnlyList<long> receiveCounts)
        {
            Rows = rows ?? throw new ArgumentNullException(nameof(rows));
            if (receiveCounts is null) throw new ArgumentNullException(nameof(receiveCounts));
            _receiveCounts = new long[receiveCounts.Count];
            _receiveOffsets = new long[receiveCounts.Count];
            long total = 0;
            for (var i = 0; i < _receiveCounts.Length; i++)
            {
                if (receiveCounts[i] < 0)
                    throw new ArgumentException($"Receive count {i} must be ≥ 0; got {receiveCounts[i]}.", nameof(receiveCounts));
                _receiveOffsets[i] = total;
                _receiveCounts[i] = receiveCounts[i];
                total += receiveCounts[i];
            }
            if (rows.Dimensions == 0) throw new ArgumentException("The rows tensor must have at least one dimension.", nameof(rows));
            var rowCount = rows.shape[0];
            if (total != rowCount)
                throw new ArgumentException($"Receive counts sum to {total} but the rows tensor has {rowCount} rows.", nameof(receiveCounts));
        }

        /// <summary>
        /// The received rows, <c>[Σ ReceiveCounts, trailing...]</c>, contiguous on the CPU, in the sender's dtype: first the
        /// rows from rank 0, then those from rank 1, and so on, each block in the order its sender sent it. The tensor
        /// belongs to the caller (it joins the current dispose scope like any TorchSharp result).
        /// </summary>
        public Tensor Rows { get; }

        /// <summary>Rows received from each rank, indexed by source rank (length = world size).</summary>
        public IReadOnlyList<long> ReceiveCounts => _receiveCounts;

        /// <summary>Index in <see cref="Rows"/> of the first row received from each rank (exclusive prefix sum of the counts).</summary>
        public IReadOnlyList<long> ReceiveOffsets => _receiveOffsets;

        /// <summary>The rows received from <paramref name="sourceRank"/> (a view of <see cref="Rows"/>).</summary>
        /// <param name="sourceRank">A rank in [0, world size).</param>
        public Tensor RowsFrom(int sourceRank)
        {
            if (sourceRank < 0 || sourceRank >= _receiveCounts.Length)
                throw new ArgumentOutOfRangeException(nameof(sourceRank), sourceRank, $"Source rank must be in [0, {_receiveCounts.Length}).");
            return Rows.narrow(0, _receiveOffsets[sourceRank], _receiveCounts[sourceRank]);
        }
    }
}
