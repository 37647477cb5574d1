using System;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// A group of <see cref="WorldSize"/> processes (ranks) that exchange tensors: the seam expert parallelism is built on.
    /// Every method is a collective: all ranks call it, in the same order, with matching arguments (same dtype and row
    /// shape; counts that agree). Implementations check what they can cheaply (dtype and shape of the payload travel with
    /// the counts) and throw <see cref="CommunicatorMismatchException"/> with the same message on every rank instead of
    /// corrupting data; a rank that never arrives makes the others throw <see cref="CommunicatorTimeoutException"/>.
    /// </summary>
    /// <remarks>
    /// Payloads are CPU tensors: inputs on another device, or not contiguous, are copied to a contiguous CPU tensor first,
    /// and results are contiguous CPU tensors. The operations are not differentiable (inputs are read detached); an
    /// autograd function that calls them defines the backward exchange. Calls are serialized per communicator (one at a
    /// time); do not call from several threads at once expecting overlap.
    /// </remarks>
    public interface ICommunicator : IDisposable
    {
        /// <summary>This process's rank, in [0, <see cref="WorldSize"/>).</summary>
        int Rank { get; }

        /// <summary>Number of ranks in the group.</summary>
        int WorldSize { get; }

        /// <summary>Calls, bytes and time spent in this communicator's collectives on this rank.</summary>
        CommunicationStatistics Statistics { get; }

        /// <summary>
        /// All-to-all with variable counts. <paramref name="send"/> holds the rows for every destination back to back: the
        /// first <c>sendCounts[0]</c> rows go to rank 0, the next <c>sendCounts[1]</c> to rank 1, and so on (zero is
        /// allowed). The counts are exchanged first (with the dtype and row shape, which must agree on all ranks), then the
        /// rows. Rows may have any trailing shape and any fixed-size dtype (float32, float64, bfloat16, float16, int64,
        /// int32, int16, int8, uint8, bool, complex); the bytes travel unchanged.
        /// </summary>
        /// <param name="send"><c>[Σ sendCounts, trailing...]</c>, at least one dimension.</param>
        /// <param name="sendCounts">Rows for each destination rank; length = <see cref="WorldSize"/>, each ≥ 0.</param>
        /// <returns>The received rows, in source-rank order, with the count from each rank.</returns>
        AllToAllResult AllToAll(Tensor send, ReadOnlySpan<long> sendCounts);

        /// <summary>
        /// Element-wise reduction over ranks, returning a new contiguous CPU tensor (same dtype and shape); the input is
        /// not modified. float32, float64, int64, int32, int16, int8 and uint8 reduce natively; float16 and bfloat16 are
        /// reduced in float32 and rounded once at the end (the same result on every rank).
        /// </summary>
        /// <param name="tensor">The local contribution; same dtype and shape on every rank.</param>
        /// <param name="op">The reduction.</param>
        Tensor AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum);

        /// <summary>
        /// As <see cref="AllReduce"/>, writing the result back into <paramref name="tensor"/> (any device or layout; the
        /// exchange itself runs on a contiguous CPU copy when the tensor is not one already). Typical use: summing gradients.
        /// </summary>
        /// <param name="tensor">The local contribution, overwritten with the reduction.</param>
        /// <param name="op">The reduction.</param>
        void AllReduceInPlace(Tensor tensor, ReduceOp op = ReduceOp.Sum);

        /// <summary>
        /// Gathers a small host byte array from every rank (lengths may differ); element <c>i</c> of the result is rank i's
        /// array. Meant for checks and metadata, not for bulk data.
        /// </summary>
        /// <param name="data">This rank's bytes.</param>
        byte[][] AllGatherBytes(ReadOnlySpan<byte> data);

        /// <summary>Returns once every rank has called it.</summary>
        void Barrier();
    }
}
