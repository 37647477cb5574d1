using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.MpiScenarios
{
    /// <summary>
    /// All-to-all time and bytes: every rank sends a [rows, cols] float32 tensor split evenly over the ranks (its own share
    /// included), after a barrier, several times; the time of a repetition is the slowest rank's. A local clone of the same
    /// tensor gives the memory-copy floor.
    /// </summary>
    internal static class Bench
    {
        public static int Run(TimeSpan timeout, long rows, long cols, int repeats)
        {
            using var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            int rank = comm.Rank, world = comm.WorldSize;
            using var send = randn(rows, cols);
            var counts = Enumerable.Range(0, world).Select(d => rows / world + (d < rows % world ? 1 : 0)).ToArray();
            const int warmup = 3;
            var times = new double[repeats];
            var copies = new double[repeats];
            comm.Statistics.Reset();
            for (var i = -warmup; i < repeats; i++)
            {
                using var scope = NewDisposeScope();
                comm.Barrier();
                var clock = Stopwatch.StartNew();
                var result = comm.AllToAll(send, counts);
                var elapsed = clock.Elapsed.TotalMilliseconds;
                if (i < 0) continue;
                times[i] = elapsed;
                clock.Restart();
                _ = send.clone();
                copies[i] = clock.Elapsed.TotalMilliseconds;
            }
            var stats = comm.Statistics;
            using var slowest = comm.AllReduce(tensor(times), ReduceOp.Max);
            var perRepeat = slowest.data<double>().ToArray();
            var rowBytes = cols * 4;
            var offRank = (rows - counts[rank]) * rowBytes;
            if (rank == 0)
            {
                var median = Median(perRepeat);
                var text = string.Create(CultureInfo.InvariantCulture,
                    $"BENCH world {world}: {rows} x {cols} float32 rows per rank ({rows * rowBytes / 1048576.0:F1} MiB), {offRank / 1048576.0:F1} MiB to other ranks; " +
                    $"all-to-all median {median:F2} ms (min {perRepeat.Min():F2}, max {perRepeat.Max():F2}) over {repeats} repeats, slowest rank per repeat; " +
                    $"{offRank / (median / 1000) / 1e9:F2} GB/s off-rank per rank; local clone of the tensor median {Median(copies):F2} ms");
                Program.Say(rank, text);
            }
            Program.Say(rank, "statistics (warm-up included): " + stats);
            return 0;
        }

        private static double Median(double[] values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
