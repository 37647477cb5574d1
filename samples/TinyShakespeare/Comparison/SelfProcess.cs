using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace MoeLayers.Samples.TinyShakespeare.Comparison
{
    /// <summary>
    /// Runs this sample again as a child process. Each compared router trains in a fresh process, so its peak memory
    /// and speed are its own (no allocator state or warm caches inherited from the previous router).
    /// </summary>
    internal static class SelfProcess
    {
        /// <summary>Runs the sample with <paramref name="arguments"/>, sharing this console; returns the exit code.</summary>
        public static int Run(IReadOnlyList<string> arguments, CancellationToken cancellation)
        {
            var executable = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find the running executable.");
            var start = new ProcessStartInfo(executable) { UseShellExecute = false };
            // Launched as `dotnet MoeLayers.Samples.TinyShakespeare.dll`: the host needs the assembly path first.
            if (string.Equals(Path.GetFileNameWithoutExtension(executable), "dotnet", StringComparison.OrdinalIgnoreCase))
                start.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
            using (cancellation.Register(() => { if (!process.HasExited) process.Kill(entireProcessTree: true); }))
            {
                process.WaitForExit();
            }
            return process.ExitCode;
        }
    }
}
