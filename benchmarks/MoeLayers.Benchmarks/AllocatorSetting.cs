using System;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// The C allocator setting of a quick run: by default freed memory is reused (<see cref="CpuMemory.ReuseFreedMemory"/>,
    /// what the samples and the README recommend), so large tensors are not faulted in anew every step;
    /// MOELAYERS_BENCH_MALLOC=default keeps glibc's defaults. The PyTorch peer gets the same setting.
    /// </summary>
    public static class AllocatorSetting
    {
        /// <summary>Environment variable: "default" keeps glibc's allocator defaults.</summary>
        public const string Variable = "MOELAYERS_BENCH_MALLOC";

        /// <summary>Whether this process reuses freed memory (set by <see cref="Apply"/>).</summary>
        public static bool ReusesFreedMemory { get; private set; }

        /// <summary>Applies the setting once, at start-up.</summary>
        public static void Apply() =>
            ReusesFreedMemory = Environment.GetEnvironmentVariable(Variable) != "default" && CpuMemory.ReuseFreedMemory();

        /// <summary>The setting in words, for the run's header.</summary>
        public static string Describe() => ReusesFreedMemory
            ? $"freed memory reused (CpuMemory.ReuseFreedMemory, 1 GiB thresholds; {Variable}=default for glibc's defaults)"
            : "glibc defaults";
    }
}
