using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>What one mpirun job printed and how it ended.</summary>
    internal sealed record MpiRun(string CommandLine, int ExitCode, string Output, TimeSpan Elapsed)
    {
        /// <summary>The lines a rank printed, without the "[rank r] " tag.</summary>
        // mpirun forwards each rank's output in chunks, so one rank's line can be cut and continued after another rank's
        // tagged text on the same output line: every "[rank N] " tag starts a segment, and a rank's lines are its segments.
        public IReadOnlyList<string> Lines(int rank) => Output.Split('\n')
            .SelectMany(line => System.Text.RegularExpressions.Regex.Split(line, @"(?=\[rank \d+\] )"))
            .Where(segment => segment.StartsWith($"[rank {rank}] ", StringComparison.Ordinal))
            .Select(segment => segment.Substring($"[rank {rank}] ".Length).TrimEnd('\r'))
            .ToList();

        public override string ToString() => $"$ {CommandLine}\n(exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s)\n{Output}";
    }

    /// <summary>
    /// Launches the scenario program under <c>mpirun -np N --allow-run-as-root --oversubscribe</c> with a wall-clock limit:
    /// on overrun the whole process tree (mpirun and every rank) is killed and the test fails with what it printed. A
    /// machine without mpirun fails the test with the install command; nothing is skipped.
    /// </summary>
    internal static class MpiLauncher
    {
        public const string InstallHint = "Install Open MPI: run build/install-openmpi.sh as root (.ci/run does), or apt-get update && apt-get install -y openmpi-bin libopenmpi-dev.";

        /// <summary>Full path of mpirun on PATH; throws with the install command when there is none.</summary>
        public static string Mpirun(string? searchPath = null)
        {
            var path = searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "";
            foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = Path.Combine(dir, "mpirun");
                if (File.Exists(candidate)) return candidate;
            }
            throw new InvalidOperationException("mpirun was not found on PATH, so the MPI tests cannot run (they fail rather than skip). " + InstallHint);
        }

        /// <summary>The scenario program's assembly, from the path the build recorded.</summary>
        public static string ScenarioAssembly() => RecordedAssembly("MpiScenariosAssembly", "The MPI scenario program");

        /// <summary>The tiny-shakespeare sample's assembly, from the path the build recorded.</summary>
        public static string TinyShakespeareAssembly() => RecordedAssembly("TinyShakespeareAssembly", "The tiny-shakespeare sample");

        private static string RecordedAssembly(string key, string what)
        {
            var recorded = typeof(MpiLauncher).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == key)?.Value;
            if (string.IsNullOrEmpty(recorded) || !File.Exists(recorded))
                throw new InvalidOperationException($"{what} was not found at '{recorded}': build the solution (it is a project reference of this test project).");
            return recorded;
        }

        /// <summary>Runs <paramref name="scenario"/> on <paramref name="ranks"/> ranks and returns when mpirun exits.</summary>
        public static MpiRun Run(int ranks, string scenario, TimeSpan limit, IEnumerable<string>? mpirunOptions = null, IEnumerable<string>? scenarioArguments = null) =>
            RunAssembly(ranks, ScenarioAssembly(), new[] { scenario }.Concat(scenarioArguments ?? Array.Empty<string>()), limit, mpirunOptions);

        /// <summary>Runs <c>dotnet <paramref name="assembly"/> <paramref name="arguments"/></c> on <paramref name="ranks"/> ranks under mpirun.</summary>
        public static MpiRun RunAssembly(int ranks, string assembly, IEnumerable<string> arguments, TimeSpan limit, IEnumerable<string>? mpirunOptions = null)
        {
            var all = new List<string> { "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow-run-as-root", "--oversubscribe" };
            all.AddRange(mpirunOptions ?? Array.Empty<string>());
            all.Add(Dotnet());
            all.Add(assembly);
            all.AddRange(arguments);
            return Launch(Mpirun(), "mpirun", all, limit);
        }

        /// <summary>Runs <c>dotnet <paramref name="assembly"/> <paramref name="arguments"/></c> as one plain process (no mpirun).</summary>
        public static MpiRun RunAlone(string assembly, IEnumerable<string> arguments, TimeSpan limit) =>
            Launch(Dotnet(), "dotnet", new[] { assembly }.Concat(arguments).ToList(), limit);

        private static string Dotnet()
        {
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            return string.IsNullOrEmpty(dotnet) || !File.Exists(dotnet) ? "dotnet" : dotnet;
        }

        private static MpiRun Launch(string program, string displayName, IReadOnlyList<string> arguments, TimeSpan limit)
        {
            var commandLine = displayName + " " + string.Join(' ', arguments);
            var start = new ProcessStartInfo(program)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            start.Environment["TERM"] = "dumb";   // no terminal escape codes from the ranks' consoles
            var output = new StringBuilder();
            var gate = new object();
            void Append(string? line)
            {
                if (line == null) return;
                lock (gate) output.Append(line).Append('\n');
            }

            var clock = Stopwatch.StartNew();
            using var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit((int)limit.TotalMilliseconds))
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // It exited just now.
                }
                process.WaitForExit(10_000);
                string text;
                lock (gate) text = output.ToString();
                throw new TimeoutException($"{commandLine} ran past its {limit.TotalSeconds:F0} s limit and was killed with its process tree. Output:\n{text}");
            }
            process.WaitForExit();   // drains the asynchronous readers
            lock (gate) return new MpiRun(commandLine, process.ExitCode, output.ToString(), clock.Elapsed);
        }
    }
}
