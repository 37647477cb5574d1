using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Peak resident memory of this process on Linux, for CPU memory comparisons. Inside <see cref="TrackingFreedMemory"/>
    /// glibc serves every allocation of 64 KiB or more with its own mapping and unmaps it when freed, so RSS follows the
    /// live tensors rather than the allocator's high-water mark; <see cref="PeakAbove"/> runs an action and returns how
    /// far the peak RSS (VmHWM, reset through /proc/self/clear_refs) rose above the RSS before it.
    /// </summary>
    public static class ProcessMemory
    {
        private const int MallocMmapThreshold = -3;
        private const int TrackingThreshold = 64 * 1024;

        // glibc's dynamic threshold grows to at most 32 MiB on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX): the steady
        // state of a process that repeatedly frees large tensors, unless the suite reuses freed memory.
        private static int SteadyStateThreshold => AllocatorSetting.ReusesFreedMemory ? CpuMemory.DefaultThresholdBytes : 32 * 1024 * 1024;

        public static bool IsSupported => OperatingSystem.IsLinux() && File.Exists("/proc/self/clear_refs");

        /// <summary>Runs <paramref name="measure"/> with the 64 KiB mmap threshold, then restores the suite's steady-state threshold.</summary>
        public static void TrackingFreedMemory(Action measure)
        {
            SetMmapThreshold(TrackingThreshold);
            try
            {
                measure();
            }
            finally
            {
                SetMmapThreshold(SteadyStateThreshold);
            }
        }

        /// <summary>Bytes by which the peak RSS during <paramref name="action"/> exceeded the RSS just before it.</summary>
        public static long PeakAbove(Action action)
        {
            // Free heap chunks left by earlier work would be reused without raising RSS: hand their pages back first.
            malloc_trim(0);
            var baseline = StatusKiB("VmRSS:");
            File.WriteAllText("/proc/self/clear_refs", "5");
            action();
            return (StatusKiB("VmHWM:") - baseline) * 1024;
        }

        /// <summary>
        /// Median over <paramref name="repeats"/> of each step's <see cref="PeakAbove"/>, the steps interleaved repeat by
        /// repeat; before each step <paramref name="clear"/> runs (drop gradients) and the GC collects, and each step runs
        /// in its own dispose scope. Call inside <see cref="TrackingFreedMemory"/>.
        /// </summary>
        public static double[] MedianStepPeaks(IReadOnlyList<Action> steps, Action clear, int repeats)
        {
            var samples = steps.Select(_ => new List<double>()).ToArray();
            for (var r = 0; r < repeats; r++)
            {
                for (var i = 0; i < steps.Count; i++)
                {
                    clear();
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    var step = steps[i];
                    samples[i].Add(PeakAbove(() =>
                    {
                        using var scope = TorchSharp.torch.NewDisposeScope();
                        step();
                    }));
                }
            }
            return samples.Select(s => Timing.Median(s.ToArray())).ToArray();
        }

        private static void SetMmapThreshold(int bytes)
        {
            if (mallopt(MallocMmapThreshold, bytes) != 1) throw new InvalidOperationException($"mallopt(M_MMAP_THRESHOLD, {bytes}) failed.");
        }

        private static long StatusKiB(string field)
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim());
            }
            throw new InvalidOperationException($"/proc/self/status has no {field} line.");
        }

        [DllImport("libc", EntryPoint = "mallopt")]
        private static extern int mallopt(int parameter, int value);

        [DllImport("libc", EntryPoint = "malloc_trim")]
        private static extern int malloc_trim(nuint pad);
    }
}
