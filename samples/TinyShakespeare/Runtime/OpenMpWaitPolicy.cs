using System;
using System.Runtime.InteropServices;

namespace MoeLayers.Samples.TinyShakespeare.Runtime
{
    /// <summary>
    /// libtorch's OpenMP threads busy-wait between parallel regions by default. When other processes compete for the
    /// cores (a shared build machine, a laptop running an IDE), a spinning thread burns the time slice its partner needs,
    /// and a training step on two threads measured here became 7–10× slower (0.37–0.57 s → 3.9–5.0 s).
    /// Waiting passively costs little when the cores are free, so the sample asks for it unless the user chose a policy.
    /// </summary>
    internal static class OpenMpWaitPolicy
    {
        private const string Variable = "OMP_WAIT_POLICY";
        private const string RuntimeDefault = "runtime default";

        /// <summary>
        /// Sets OMP_WAIT_POLICY=PASSIVE in the native environment if it is unset. Must run before the first TorchSharp
        /// call: OpenMP reads it once, when libtorch is loaded. .NET's Environment.SetEnvironmentVariable does not reach
        /// native code on Unix, hence setenv. Linux only (macOS and Windows builds of libtorch use other runtimes).
        /// </summary>
        /// <returns>The policy in effect.</returns>
        public static string ApplyPassiveDefault()
        {
            var current = Environment.GetEnvironmentVariable(Variable);
            if (current is not null || !OperatingSystem.IsLinux()) return Current = current ?? RuntimeDefault;
            try
            {
                return Current = SetEnv(Variable, "PASSIVE", overwrite: 0) == 0 ? "PASSIVE" : RuntimeDefault;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return Current = RuntimeDefault; // a speed tweak is not worth failing for
            }
        }

        /// <summary>The policy the process runs with, as set by <see cref="ApplyPassiveDefault"/>.</summary>
        public static string Current { get; private set; } = RuntimeDefault;

        [DllImport("libc", EntryPoint = "setenv")]
        private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
            [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
    }
}
