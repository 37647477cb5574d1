using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.MpiScenarios
{
    /// <summary>
    /// Step time (forward + backward) of one process holding all E experts on the whole batch against W ranks holding
    /// E/W experts each on 1/W of the batch, interleaved repeat by repeat: per repeat rank 0 runs the one-process step
    /// with one torch thread, then with W threads (the other ranks wait in a barrier), then all ranks run the
    /// expert-parallel step. A step's wall time is the slowest rank's; CPU time is summed over ranks.
    /// </summary>
    internal static class ExpertParallelBench
    {
        public static int Run(TimeSpan timeout, long tokens, int dim, int hidden, int experts, int topK, int repeats)
        {
            using var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            var rank = comm.Rank;
            var world = comm.WorldSize;
            var options = new MoeLayerOptions { InputDim = dim, HiddenDim = hidden, NumExperts = experts, TopK = topK, CollectStatistics = false };
            manual_seed(5);
            var full = new MoeLayer(options);
            full.train();
            var ep = MoeLayers.Distributed.ExpertParallel.Create(options, comm);
            ep.train();
            ep.LoadShardFrom(full.state_dict());
            manual_seed(9);
            // The input has a gradient, as a layer's input inside a model does: the backward runs both mirror exchanges.
            var x = randn(tokens, dim).requires_grad_(true);
            var local = tokens / world;
            var xl = x.detach().narrow(0, rank * local, local).clone().requires_grad_(true);
            Program.Say(rank, $"T={tokens} (T/W={local} per rank), d={dim}, h={hidden}, E={experts} (E/W={experts / world} per rank), k={topK}, float32, dropless, {repeats} repeats after 1 warm-up");

            var single1 = new List<double>();
            var singleW = new List<double>();
            var parallel = new List<double>();
            var cpuSingle1 = new List<double>();
            var cpuSingleW = new List<double>();
            var cpuParallel = new List<double>();
            var a2aMs = new List<double>();
            var gatherMs = new List<double>();
            long a2aBytesSent = 0, a2aBytesReceived = 0, a2aCalls = 0;
            for (var i = 0; i <= repeats; i++)
            {
                foreach (var threads in new[] { 1, world })
                {
                    comm.Barrier();
                    double wall = 0, cpu = 0;
                    if (rank == 0)
                    {
                        torch.set_num_threads(threads);
                        (wall, cpu) = Step(() =>
                        {
                            using var scope = NewDisposeScope();
                            full.zero_grad();
                            full.forward(x).sum().backward();
                        });
                        torch.set_num_threads(1);
                    }
                    comm.Barrier();
                    if (i == 0) continue;
                    (threads == 1 ? single1 : singleW).Add(wall);
                    (threads == 1 ? cpuSingle1 : cpuSingleW).Add(cpu);
                }

                comm.Barrier();
                comm.Statistics.Reset();
                var (w, c) = Step(() =>
                {
                    using var scope = NewDisposeScope();
                    ep.zero_grad();
                    ep.forward(xl).sum().backward();
                });
                var stats = (comm.Statistics.AllToAllTime.TotalMilliseconds, comm.Statistics.OtherTime.TotalMilliseconds,
                    comm.Statistics.AllToAllBytesSent, comm.Statistics.AllToAllBytesReceived, comm.Statistics.AllToAllCalls);
                using var maxima = comm.AllReduce(tensor(new[] { w, stats.Item1, stats.Item2 }), ReduceOp.Max);
                using var cpuSum = comm.AllReduce(tensor(new[] { c }), ReduceOp.Sum);
                if (i == 0) continue;
                var m = maxima.data<double>().ToArray();
                parallel.Add(m[0]);
                a2aMs.Add(m[1]);
                gatherMs.Add(m[2]);
                cpuParallel.Add(cpuSum.item<double>());
                a2aBytesSent = stats.Item3;
                a2aBytesReceived = stats.Item4;
                a2aCalls = stats.Item5;
                if (rank == 0)
                    Program.Say(rank, string.Create(CultureInfo.InvariantCulture,
                    $"repeat {i}: one process 1 thread {single1[^1]:F0} ms, {world} threads {singleW[^1]:F0} ms; {world} ranks {m[0]:F0} ms (all-to-all {m[1]:F0} ms, all-gather {m[2]:F1} ms)"));
            }
            if (rank == 0)
            {
                Program.Say(rank, string.Create(CultureInfo.InvariantCulture,
                    $"RESULT one process, 1 thread: median {Median(single1):F0} ms wall, {Median(cpuSingle1):F0} ms CPU"));
                Program.Say(rank, string.Create(CultureInfo.InvariantCulture,
                    $"RESULT one process, {world} threads: median {Median(singleW):F0} ms wall, {Median(cpuSingleW):F0} ms CPU"));
                Program.Say(rank, string.Create(CultureInfo.InvariantCulture,
                    $"RESULT {world} ranks x 1 thread, experts sharded: median {Median(parallel):F0} ms wall (slowest rank), {Median(cpuParallel):F0} ms CPU (all ranks); " +
                    $"all-to-all median {Median(a2aMs):F0} ms per step (slowest rank, {a2aCalls} calls: 2 forward, 2 backward), all-gather of counts {Median(gatherMs):F1} ms"));
            }
            Program.Say(rank, string.Create(CultureInfo.InvariantCulture,
                $"RESULT rank {rank} all-to-all bytes per step: {a2aBytesSent / 1048576.0:F2} MiB sent, {a2aBytesReceived / 1048576.0:F2} MiB received (rows kept for itself included)"));
            return 0;
        }

        private static (double WallMs, double CpuMs) Step(Action step)
        {
            var process = Process.GetCurrentProcess();
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            step();
            var wall = clock.Elapsed.TotalMilliseconds;
            process.Refresh();
            return (wall, (process.TotalProcessorTime - cpu0).TotalMilliseconds);
        }

        private static double Median(List<double> values)
        {
            if (values.Count == 0) return double.NaN;
            var sorted = values.OrderBy(v => v).ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
