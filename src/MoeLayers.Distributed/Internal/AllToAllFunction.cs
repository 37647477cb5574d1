using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// A differentiable all-to-all: forward sends <c>rows</c> with <c>sendCounts</c> and returns what arrives (source-rank
    /// order); backward is the mirror exchange, the gradient of the received rows sent back with the counts swapped, so
    /// every rank's gradient rows return to the rank they came from, in the order they were sent.
    /// Arguments: rows [Σ sendCounts, width], <see cref="ICommunicator"/>, long[] sendCounts, long[] receiveCounts.
    /// Every rank must run the backward too (it is a collective): all ranks call backward on losses that depend on the
    /// exchanged rows, or none does. A failure in the backward exchange (a rank that died: the timeout) cannot be thrown
    /// to the caller of <c>backward()</c>, since libtorch runs this from native code: the rank prints the error and ends
    /// the job (MPI_Abort through the faulted communicator, else a fail-fast).
    /// </summary>
    internal sealed class AllToAllFunction : autograd.SingleTensorFunction<AllToAllFunction>
    {
        public override string Name => "MoeAllToAll";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (rows, communicator, sendCounts, receiveCounts) = ((Tensor)vars[0], (ICommunicator)vars[1], (long[])vars[2], (long[])vars[3]);
            ctx.save_data("communicator", communicator);
            ctx.save_data("sendCounts", sendCounts);
            ctx.save_data("receiveCounts", receiveCounts);
            ctx.save_data("width", rows.shape[1]);
            ctx.save_data("dtype", rows.dtype);
            ctx.save_data("device", rows.device);
            return Exchange(communicator, rows, sendCounts, receiveCounts, rows.device);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var communicator = (ICommunicator)ctx.get_data("communicator");
            var sendCounts = (long[])ctx.get_data("sendCounts");
            var receiveCounts = (long[])ctx.get_data("receiveCounts");
            var device = (Device)ctx.get_data("device");
            var gradient = grad_output is null || grad_output.IsInvalid
                ? zeros(new[] { Sum(receiveCounts), (long)ctx.get_data("width") }, (ScalarType)ctx.get_data("dtype"), device)
                : grad_output;
            try
            {
                var gradInput = Exchange(communicator, gradient, receiveCounts, sendCounts, device);
                return new List<Tensor> { gradInput, null!, null!, null! };
            }
            catch (Exception e)
            {
                // libtorch calls this from native code, where a .NET exception cannot travel: it would end the process as
                // an unhandled exception. Say why, end the job (a faulted MPI communicator aborts every rank on dispose),
                // and fail fast with the same words.
                var message = $"MoeLayers.Distributed: the backward all-to-all of an expert-parallel MoE layer failed on rank {communicator.Rank} of {communicator.WorldSize}; " +
                    $"an exception cannot leave a backward pass, so the process ends. {e.GetType().Name}: {e.Message}";
                Console.Error.WriteLine(message);
                Console.Error.Flush();
                if (e is CommunicatorTimeoutException) communicator.Dispose();
                Environment.FailFast(message, e);
                throw;
            }
        }

        /// <summary>The exchange, checking that what arrived is what the counts computed on this rank promised.</summary>
        private static Tensor Exchange(ICommunicator communicator, Tensor rows, long[] sendCounts, long[] receiveCounts, Device device)
        {
            var received = communicator.AllToAll(rows, sendCounts);
            for (var r = 0; r < receiveCounts.Length; r++)
            {
                if (received.ReceiveCounts[r] != receiveCounts[r])
                    throw new InvalidOperationException(
                        $"Expert-parallel exchange on rank {communicator.Rank}: rank {r} sent {received.ReceiveCounts[r]} rows where the shared counts promised {receiveCounts[r]}; the ranks' routing bookkeeping disagrees.");
            }
            var result = received.Rows;
            return result.device == device ? result : result.to(device);
        }

        private static long Sum(long[] counts)
        {
            long total = 0;
            foreach (var c in counts) total += c;
            return total;
        }
    }
}
