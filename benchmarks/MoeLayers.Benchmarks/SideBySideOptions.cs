using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MoeLayers.Benchmarks
{
    /// <summary>Command-line options of the side-by-side suite (<c>--quick pytorch [options]</c>).</summary>
    /// <param name="Threads">Intra-op threads on both sides (torch, MKL; torch, OpenBLAS).</param>
    /// <param name="Blocks">Blocks per shape and side, alternated C#, PyTorch, C#, ...</param>
    /// <param name="Rounds">Rounds per block, or null for the per-shape default (<see cref="RoundsFor"/>).</param>
    /// <param name="Warmup">Warm-up calls of each case, once per shape and side, before its first block.</param>
    /// <param name="Shapes">Shape names (<see cref="BenchShape.ByName"/>), in order.</param>
    /// <param name="Python">The interpreter that runs benchmarks/pytorch/moe_cpu.py.</param>
    /// <param name="PauseMs">Idle pause at each hand-over, so the other side's spinning OpenMP/OpenBLAS threads are asleep.</param>
    internal sealed record SideBySideOptions(int Threads, int Blocks, int? Rounds, int Warmup, IReadOnlyList<string> Shapes, string Python, int PauseMs)
    {
        /// <summary>The usage text.</summary>
        public const string Usage =
            "--quick pytorch [--threads N] [--blocks 3] [--rounds R] [--warmup 3] [--shapes small,large,fine] "
            + "[--python /usr/bin/python3] [--pause-ms 1000]";

        /// <summary>Rounds per block at <paramref name="shape"/>: the option, else 15 for the small shape and 3 for the others.</summary>
        public int RoundsFor(string shape) => Rounds ?? (shape == "small" ? 15 : 3);

        /// <summary>Parses the arguments after the suite name.</summary>
        /// <exception cref="ArgumentException">An unknown option, a missing or invalid value.</exception>
        public static SideBySideOptions Parse(IReadOnlyList<string> args)
        {
            var options = new SideBySideOptions(
                TorchSharp.torch.get_num_threads(), 3, null, 3, new[] { "small", "large", "fine" },
                Environment.GetEnvironmentVariable("MOELAYERS_PYTHON") ?? PyTorchPeer.DefaultPython, 1000);
            for (var i = 0; i < args.Count; i++)
            {
                var name = args[i];
                if (i + 1 >= args.Count) throw new ArgumentException($"{name} needs a value. Usage: {Usage}");
                var value = args[++i];
                options = name switch
                {
                    "--threads" => options with { Threads = Positive(name, value) },
                    "--blocks" => options with { Blocks = Positive(name, value) },
                    "--rounds" => options with { Rounds = Positive(name, value) },
                    "--warmup" => options with { Warmup = NonNegative(name, value) },
                    "--shapes" => options with { Shapes = ShapeNames(value) },
                    "--python" => options with { Python = value },
                    "--pause-ms" => options with { PauseMs = NonNegative(name, value) },
                    _ => throw new ArgumentException($"unknown option {name}. Usage: {Usage}"),
                };
            }
            return options;
        }

        private static int Positive(string name, string value) =>
            int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 1
                ? n
                : throw new ArgumentException($"{name} takes an integer of at least 1; got '{value}'.");

        private static int NonNegative(string name, string value) =>
            int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0
                ? n
                : throw new ArgumentException($"{name} takes an integer of at least 0; got '{value}'.");

        private static string[] ShapeNames(string value)
        {
            var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = names.Where(n => !BenchShape.ByName.ContainsKey(n)).ToArray();
            if (names.Length == 0 || unknown.Length > 0)
                throw new ArgumentException($"--shapes takes names among {string.Join(", ", BenchShape.ByName.Keys)}; got '{value}'.");
            return names;
        }
    }
}
