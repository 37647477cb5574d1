using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// The quick suite <c>pytorch</c>: the C# floor and MoE layer (the <c>dispatch</c> suite's <c>floor</c> and
    /// <c>moe</c> cases) and the PyTorch peer script's floor, masked per-expert loop and sorted dispatch, timed in one run
    /// at the same shapes and thread count. Per shape, blocks of C# rounds and PyTorch rounds alternate (the PyTorch side
    /// runs in a child process that waits idle during the C# blocks); each side's medians pool all its blocks, and each
    /// MoE case is a ratio to its own side's floor. Ends with markdown tables for benchmarks/README.md.
    /// </summary>
    internal static class SideBySideSuite
    {
        private static readonly string[] CSharpCases = { "csharp-floor", "csharp-moe" };
        private static readonly string[] PyTorchCases = { "pytorch-floor", "pytorch-loop", "pytorch-sorted" };

        /// <summary>Runs the suite with the options after the suite name (<see cref="SideBySideOptions.Usage"/>).</summary>
        /// <exception cref="BenchmarkSetupException">Python, torch or OpenBLAS is missing, or torch loaded the reference BLAS.</exception>
        public static void Run(IReadOnlyList<string> args)
        {
            var options = SideBySideOptions.Parse(args);
            var threadsBefore = get_num_threads();
            set_num_threads(options.Threads);
            try
            {
                var loadBefore = LoadAverage();
                var csharpBlas = CSharpBlas.Describe();
                using var peer = PyTorchPeer.Start(options.Python, options.Threads, options.Warmup, auxiliaryLosses: true);
                if (peer.OnReferenceBlas)
                {
                    throw new BenchmarkSetupException(
                        $"torch runs on the reference BLAS ({peer.Blas}): its times would be 5-15x too slow. Install "
                        + "libopenblas0-pthread and select it as libblas.so.3: build/install-pytorch-cpu.sh (as root) says how.");
                }
                Console.WriteLine($"# side by side: {options.Threads} threads on both sides; {options.Blocks} blocks per shape and side, "
                    + $"alternated C#, PyTorch; {options.Warmup} warm-up calls per case; load average {loadBefore}");
                Console.WriteLine($"# C# BLAS: {csharpBlas}");
                Console.WriteLine($"# PyTorch: {peer.Header}");
                Console.WriteLine($"# PyTorch BLAS: {peer.Blas}");
                var summaries = new List<CaseSummary>();
                foreach (var name in options.Shapes) summaries.AddRange(RunShape(name, options, peer));
                var loadAfter = LoadAverage();
                Console.WriteLine();
                Console.Write(Markdown(summaries, options, csharpBlas, peer, loadBefore, loadAfter));
            }
            finally
            {
                set_num_threads(threadsBefore);
            }
        }

        private static IEnumerable<CaseSummary> RunShape(string name, SideBySideOptions options, PyTorchPeer peer)
        {
            var shape = BenchShape.ByName[name];
            var rounds = options.RoundsFor(name);
            var samples = CSharpCases.Concat(PyTorchCases).ToDictionary(c => c, _ => new List<(double WallMs, double CpuMs)>());
            using (var cases = new DispatchCases(shape))
            {
                var steps = new Action[] { cases.Floor, () => cases.Layer(DispatchStrategy.Auto) };
                for (var block = 0; block < options.Blocks; block++)
                {
                    Console.WriteLine($"# {name} ({shape}) block {block + 1}/{options.Blocks}: C# {rounds} rounds, then PyTorch {rounds} rounds");
                    var (wall, cpu) = Timing.InterleavedSamples(steps, block == 0 ? options.Warmup : 0, rounds);
                    for (var c = 0; c < CSharpCases.Length; c++)
                        samples[CSharpCases[c]].AddRange(wall[c].Zip(cpu[c]));
                    Thread.Sleep(options.PauseMs);
                    foreach (var (pyCase, calls) in peer.Run(name, rounds))
                    {
                        if (!samples.TryGetValue(pyCase, out var list))
                            throw new InvalidOperationException($"the PyTorch peer reported an unknown case {pyCase}.");
                        list.AddRange(calls);
                    }
                    Thread.Sleep(options.PauseMs);
                }
            }
            var result = new List<CaseSummary>();
            foreach (var (side, floor) in new[] { (CSharpCases, "csharp-floor"), (PyTorchCases, "pytorch-floor") })
            {
                var floorWall = Timing.Median(samples[floor].Select(s => s.WallMs).ToArray());
                var floorCpu = Timing.Median(samples[floor].Select(s => s.CpuMs).ToArray());
                foreach (var c in side)
                {
                    var wall = Timing.Median(samples[c].Select(s => s.WallMs).ToArray());
                    var cpu = Timing.Median(samples[c].Select(s => s.CpuMs).ToArray());
                    var summary = new CaseSummary(c, shape, wall, cpu, wall / floorWall, cpu / floorCpu, samples[c].Count);
                    Console.WriteLine(summary);
                    result.Add(summary);
                }
            }
            return result;
        }

        private static string Markdown(List<CaseSummary> summaries, SideBySideOptions options, string csharpBlas, PyTorchPeer peer,
            string loadBefore, string loadAfter)
        {
            var text = new StringBuilder();
            foreach (var (title, cpu) in new[] { ("Wall time (median ms) and ratio to the side's own floor", false), ("Process CPU time (median ms) and ratio to the side's own floor", true) })
            {
                text.AppendLine($"{title}:").AppendLine();
                text.AppendLine("| shape (T, d, h, E, k) | C# floor | C# moe (Auto) | C# moe ÷ floor | PyTorch floor | PyTorch loop | loop ÷ floor | PyTorch sorted | sorted ÷ floor |");
                text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
                foreach (var group in summaries.GroupBy(s => s.Shape))
                {
                    var byCase = group.ToDictionary(s => s.Case);
                    string Ms(string c) => F(cpu ? byCase[c].CpuMs : byCase[c].WallMs, "F2");
                    string Ratio(string c) => F(cpu ? byCase[c].CpuRatio : byCase[c].Ratio, "F3");
                    text.AppendLine($"| {group.Key.ToString().Replace(",", ", ", StringComparison.Ordinal)} | {Ms("csharp-floor")} | {Ms("csharp-moe")} | "
                        + $"**{Ratio("csharp-moe")}** | {Ms("pytorch-floor")} | {Ms("pytorch-loop")} | {Ratio("pytorch-loop")} | "
                        + $"{Ms("pytorch-sorted")} | **{Ratio("pytorch-sorted")}** |");
                }
                text.AppendLine();
            }
            var rounds = string.Join(", ", options.Shapes.Select(s => $"{s} {options.Blocks} × {options.RoundsFor(s)}"));
            text.AppendLine($"{options.Threads} threads on both sides; medians over blocks × rounds per side ({rounds}), C# and PyTorch blocks "
                + $"alternated; load average {loadBefore} before, {loadAfter} after; {Environment.ProcessorCount} cores.");
            text.AppendLine($"C#: TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, libtorch (TorchSharp-cpu) on MKL: {csharpBlas}.");
            text.AppendLine($"PyTorch: {peer.Header}; BLAS {peer.Blas}.");
            text.AppendLine("Both sides: loss = output.sum() + 0.01 · Switch load-balancing loss + 0.001 · router z-loss, float32, dropless; "
                + "the C# layer also collects its routing statistics (one host copy of the expert loads), as in the dispatch suite.");
            return text.ToString();
        }

        private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

        /// <summary>The 1, 5 and 15 minute load averages (Linux), or "unknown".</summary>
        private static string LoadAverage()
        {
            try
            {
                return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
            }
            catch (IOException)
            {
                return "unknown";
            }
            catch (UnauthorizedAccessException)
            {
                return "unknown";
            }
        }

        /// <summary>One case's medians at one shape, with its ratios to its own side's floor.</summary>
        private sealed record CaseSummary(string Case, BenchShape Shape, double WallMs, double CpuMs, double Ratio, double CpuRatio, int Samples)
        {
            public override string ToString() =>
                $"case={Case} shape={Shape} median_ms={F(WallMs, "F2")} ratio_to_floor={F(Ratio, "F3")} "
                + $"cpu_ms={F(CpuMs, "F2")} cpu_ratio_to_floor={F(CpuRatio, "F3")} samples={Samples}";
        }
    }
}
