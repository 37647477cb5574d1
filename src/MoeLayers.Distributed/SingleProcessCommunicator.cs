using System;
using System.Diagnostics;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// A world of one rank: every collective is the identity (all-to-all returns the rows it was given, all-reduce the
    /// tensor's values, all-gather this rank's bytes), with the same argument checks and result types as
    /// <see cref="MpiCommunicator"/>. Results are new tensors, never views of the input. For tests and for running a
    /// distributed code path in one process.
    /// </summary>
    public sealed class SingleProcessCommunicator : ICommunicator
    {
        private bool _disposed;

        /// <summary>Always 0.</summary>
        public int Rank => 0;

        /// <summary>Always 1.</summary>
        public int WorldSize => 1;

        /// <inheritdoc />
        public CommunicationStatistics Statistics { get; } = new();

        /// <inheritdoc />
        public AllToAllResult AllToAll(Tensor send, ReadOnlySpan<long> sendCounts)
        {
            ThrowIfDisposed();
            var error = Arguments.AllToAll(send, sendCounts, WorldSize);
            if (error != null) throw new ArgumentException(error, nameof(send));
            var clock = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            var rows = TensorPayload.ContiguousCpu(send).clone();
            var bytes = rows.numel() * rows.element_size();
            Statistics.AddAllToAll(bytes, bytes, clock.Elapsed);
            return new AllToAllResult(rows.MoveToOuterDisposeScope(), new[] { sendCounts[0] });
        }

        /// <inheritdoc />
        public Tensor AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            ThrowIfDisposed();
            var error = Arguments.AllReduce(tensor, op);
            if (error != null) throw new ArgumentException(error, nameof(tensor));
            var clock = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            var result = TensorPayload.ContiguousCpu(tensor).clone();
            Statistics.AddAllReduce(result.numel() * result.element_size(), clock.Elapsed);
            return result.MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public void AllReduceInPlace(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            ThrowIfDisposed();
            var error = Arguments.AllReduce(tensor, op);
            if (error != null) throw new ArgumentException(error, nameof(tensor));
            Statistics.AddAllReduce(tensor.numel() * tensor.element_size(), TimeSpan.Zero);
        }

        /// <inheritdoc />
        public byte[][] AllGatherBytes(ReadOnlySpan<byte> data)
        {
            ThrowIfDisposed();
            Statistics.AddOther(TimeSpan.Zero);
            return new[] { data.ToArray() };
        }

        /// <inheritdoc />
        public void Barrier()
        {
            ThrowIfDisposed();
            Statistics.AddOther(TimeSpan.Zero);
        }

        /// <summary>Marks the communicator disposed; later calls throw <see cref="ObjectDisposedException"/>.</summary>
        public void Dispose() => _disposed = true;

        private void ThrowIfDisposed()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(SingleProcessCommunicator));
        }
    }
}
