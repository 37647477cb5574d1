using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// benchmarks/pytorch/moe_cpu.py as a child process in its --serve mode: it builds and warms up a shape the first
    /// time it is asked for it, then runs the asked number of interleaved rounds of its cases and reports every call.
    /// Between requests it waits on its standard input and uses no CPU, so the C# and PyTorch blocks of one run take
    /// turns on the cores.
    /// </summary>
    internal sealed class PyTorchPeer : IDisposable
    {
        /// <summary>The interpreter that sees Debian's python3-torch (a pyenv or virtualenv python3 does not).</summary>
        public const string DefaultPython = "/usr/bin/python3";

        private const string InstallHint =
            "Install Debian's python3-torch and libopenblas0-pthread: build/install-pytorch-cpu.sh (as root), or "
            + "apt-get update && apt-get install -y python3-torch libopenblas0-pthread.";

        private readonly Process _process;

        private PyTorchPeer(Process process, string header, string blas)
        {
            _process = process;
            Header = header;
            Blas = blas;
        }

        /// <summary>The script's first line (torch version, threads, whether the auxiliary losses are on).</summary>
        public string Header { get; }

        /// <summary>The BLAS torch loaded, as the script reports it (kind, OpenBLAS configuration, library paths).</summary>
        public string Blas { get; }

        /// <summary>Whether torch runs on the reference BLAS (netlib libblas.so.3), 5–15× slower than OpenBLAS.</summary>
        public bool OnReferenceBlas => Blas.StartsWith("reference", StringComparison.Ordinal);

        /// <summary>
        /// Starts the script with <paramref name="python"/> and waits for its header.
        /// </summary>
        /// <exception cref="BenchmarkSetupException">The interpreter, the script or torch is missing, or the script failed to start.</exception>
        public static PyTorchPeer Start(string python, int threads, int warmup, bool auxiliaryLosses)
        {
            if (!File.Exists(python))
                throw new BenchmarkSetupException($"{python} does not exist; the side-by-side suite runs Debian's torch with it. {InstallHint}");
            var script = FindScript();
            var start = new ProcessStartInfo(python)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { script, "--serve", "--threads", threads.ToString(CultureInfo.InvariantCulture), "--warmup", warmup.ToString(CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(argument);
            if (!auxiliaryLosses) start.ArgumentList.Add("--no-aux");
            // The same allocator setting as this process (AllocatorSetting, applied at start-up).
            if (AllocatorSetting.ReusesFreedMemory) start.ArgumentList.Add("--reuse-freed-memory");
            // The same thread count on both sides: torch's OpenMP pool and OpenBLAS's own pthread pool.
            start.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
            start.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
            start.Environment["PYTHONUNBUFFERED"] = "1";
            var process = Process.Start(start) ?? throw new BenchmarkSetupException($"could not start {python} {script}.");
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null) Console.Error.WriteLine("[pytorch] " + e.Data);
            };
            process.BeginErrorReadLine();
            string? header = null, blas = null;
            while (process.StandardOutput.ReadLine() is { } line)
            {
                if (line == "ready") break;
                if (line.StartsWith("# blas=", StringComparison.Ordinal)) blas = line["# blas=".Length..];
                else if (line.StartsWith("# ", StringComparison.Ordinal)) header ??= line[2..];
            }
            if (header is null || blas is null)
            {
                process.WaitForExit();
                var cause = process.ExitCode == 3 ? "torch does not import" : $"the script exited with code {process.ExitCode} (its stderr is above)";
                process.Dispose();
                throw new BenchmarkSetupException($"{python} {script}: {cause}. {InstallHint}");
            }
            return new PyTorchPeer(process, header, blas);
        }

        /// <summary>
        /// Runs <paramref name="rounds"/> interleaved rounds at the shape named <paramref name="shape"/> (warming it up
        /// first if it is new) and returns every call, by case name (pytorch-floor, pytorch-loop, pytorch-sorted).
        /// </summary>
        public Dictionary<string, List<(double WallMs, double CpuMs)>> Run(string shape, int rounds)
        {
            _process.StandardInput.WriteLine($"run {shape} {rounds.ToString(CultureInfo.InvariantCulture)}");
            _process.StandardInput.Flush();
            var samples = new Dictionary<string, List<(double, double)>>();
            while (true)
            {
                var line = _process.StandardOutput.ReadLine()
                    ?? throw new InvalidOperationException($"the PyTorch peer exited (code {WaitExitCode()}) during `run {shape} {rounds}`; its stderr is above.");
                if (line == "ready") return samples;
                if (line.StartsWith("error:", StringComparison.Ordinal)) throw new InvalidOperationException("PyTorch peer: " + line);
                if (!line.StartsWith("sample ", StringComparison.Ordinal)) continue;
                var fields = line.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
                var list = samples.TryGetValue(fields["case"], out var existing) ? existing : samples[fields["case"]] = new List<(double, double)>();
                list.Add((double.Parse(fields["wall_ms"], CultureInfo.InvariantCulture), double.Parse(fields["cpu_ms"], CultureInfo.InvariantCulture)));
            }
        }

        /// <summary>Asks the script to quit and waits for it (kills it after 30 s).</summary>
        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.StandardInput.WriteLine("quit");
                    _process.StandardInput.Close();
                    if (!_process.WaitForExit(30_000)) _process.Kill();
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                // already gone
            }
            _process.Dispose();
        }

        private int WaitExitCode()
        {
            _process.WaitForExit(10_000);
            return _process.HasExited ? _process.ExitCode : -1;
        }

        /// <summary>benchmarks/pytorch/moe_cpu.py, looked up from the working directory and from the program's folder upwards.</summary>
        private static string FindScript()
        {
            var relative = Path.Combine("benchmarks", "pytorch", "moe_cpu.py");
            foreach (var origin in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            {
                for (var folder = new DirectoryInfo(origin); folder is not null; folder = folder.Parent)
                {
                    var candidate = Path.Combine(folder.FullName, relative);
                    if (File.Exists(candidate)) return candidate;
                }
            }
            throw new BenchmarkSetupException($"{relative} was not found above {Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}; run from the repository.");
        }
    }
}
