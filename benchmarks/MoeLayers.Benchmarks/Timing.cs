using System;
using System.Diagnostics;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>Median wall time of a training step (forward + backward) after warm-up.</summary>
    public static class Timing
    {
        public static double MedianMilliseconds(Action step, int warmup, int iterations)
        {
            for (var i = 0; i < warmup; i++) RunScoped(step);
            var times = new double[iterations];
            for (var i = 0; i < iterations; i++)
            {
                var watch = Stopwatch.StartNew();
                RunScoped(step);
                times[i] = watch.Elapsed.TotalMilliseconds;
            }
            Array.Sort(times);
            return iterations % 2 == 1 ? times[iterations / 2] : (times[iterations / 2 - 1] + times[iterations / 2]) / 2;
        }

        /// <summary>Alternates the cases round by round so drift in machine load hits them equally.</summary>
        public static double[] InterleavedMedians(Action[] steps, int warmup, int rounds)
        {
            foreach (var step in steps) for (var i = 0; i < warmup; i++) RunScoped(step);
            var times = steps.Select(_ => new double[rounds]).ToArray();
            for (var r = 0; r < rounds; r++)
            {
                for (var c = 0; c < steps.Length; c++)
                {
                    var watch = Stopwatch.StartNew();
                    RunScoped(steps[c]);
                    times[c][r] = watch.Elapsed.TotalMilliseconds;
                }
            }
            return times.Select(t => { Array.Sort(t); return rounds % 2 == 1 ? t[rounds / 2] : (t[rounds / 2 - 1] + t[rounds / 2]) / 2; }).ToArray();
        }

        /// <summary>
        /// <see cref="InterleavedMedians"/> with the process CPU time of each call as well (medians of both): on a loaded
        /// machine wall time also counts the time other jobs held the cores.
        /// </summary>
        public static (double[] WallMs, double[] CpuMs) InterleavedWallAndCpu(Action[] steps, int warmup, int rounds)
        {
            var (wall, cpu) = InterleavedSamples(steps, warmup, rounds);
            return (wall.Select(Median).ToArray(), cpu.Select(Median).ToArray());
        }

        /// <summary>
        /// Every call's wall and process CPU time in ms, [case][round], cases alternated round by round after
        /// <paramref name="warmup"/> calls of each; for suites that pool the rounds of several blocks before the median.
        /// </summary>
        public static (double[][] WallMs, double[][] CpuMs) InterleavedSamples(Action[] steps, int warmup, int rounds)
        {
            foreach (var step in steps) for (var i = 0; i < warmup; i++) RunScoped(step);
            var wall = steps.Select(_ => new double[rounds]).ToArray();
            var cpu = steps.Select(_ => new double[rounds]).ToArray();
            using var process = Process.GetCurrentProcess();
            for (var r = 0; r < rounds; r++)
            {
                for (var c = 0; c < steps.Length; c++)
                {
                    process.Refresh();
                    var cpuBefore = process.TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    RunScoped(steps[c]);
                    wall[c][r] = watch.Elapsed.TotalMilliseconds;
                    process.Refresh();
                    cpu[c][r] = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
                }
            }
            return (wall, cpu);
        }

        /// <summary>The median (the mean of the middle two for an even count).</summary>
        public static double Median(double[] values)
        {
            var t = values.ToArray();
            Array.Sort(t);
            return t.Length % 2 == 1 ? t[t.Length / 2] : (t[t.Length / 2 - 1] + t[t.Length / 2]) / 2;
        }

        private static void RunScoped(Action step)
        {
            using var scope = NewDisposeScope();
            step();
        }
    }
}
