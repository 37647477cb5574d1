using System;
using System.Globalization;
using System.Linq;
using TorchSharp;

namespace MoeLayers.Distributed.MpiScenarios
{
    /// <summary>
    /// One MPI rank of a scenario. Usage: <c>mpirun -np N [--allow-run-as-root --oversubscribe] dotnet
    /// MoeLayers.Distributed.MpiScenarios.dll &lt;scenario&gt; [--timeout seconds]</c>, scenario one of
    /// collectives | dead-rank | stuck-rank | leave-early | late-start | ep-equivalence | ep-bad | ep-dead [--in-forward] | ep-bench [--tokens T --dim d --hidden h --experts E --top-k k --repeats K] | bench [--rows R --cols C --repeats K]. Every line a rank prints starts with
    /// "[rank r]"; a scenario's verdict is its exit code plus its RESULT line.
    /// </summary>
    internal static class Program
    {
        private static int Main(string[] args)
        {
            if (args.Length == 0)
            {
                Console.Error.WriteLine("usage: <collectives|dead-rank|stuck-rank|leave-early|late-start|ep-equivalence|ep-bad|ep-dead|ep-bench|bench> [--timeout seconds] [--rows R --cols C --repeats K]");
                return 2;
            }
            // Ranks share the machine's cores: one intra-op thread each.
            torch.set_num_threads(1);
            var timeout = TimeSpan.FromSeconds(Number(args, "--timeout", 30));
            switch (args[0])
            {
                case "collectives": return Collectives.Run(timeout);
                case "dead-rank": return Failures.DeadRank(timeout);
                case "stuck-rank": return Failures.StuckRank(timeout);
                case "leave-early": return Failures.LeaveEarly(timeout);
                case "late-start": return Failures.LateStart(timeout, TimeSpan.FromSeconds(Number(args, "--connect-timeout", 5)));
                case "ep-equivalence": return ExpertParallel.Equivalence(timeout, (int)Number(args, "--tokens-per-rank", 24));
                case "ep-bad": return ExpertParallel.BadConditions(timeout);
                case "ep-dead": return ExpertParallel.DeadRank(timeout, inForward: Array.IndexOf(args, "--in-forward") >= 0);
                case "ep-bench":
                    return ExpertParallelBench.Run(timeout, (long)Number(args, "--tokens", 4096), (int)Number(args, "--dim", 512), (int)Number(args, "--hidden", 2048),
                        (int)Number(args, "--experts", 8), (int)Number(args, "--top-k", 2), (int)Number(args, "--repeats", 5));
                case "bench": return Bench.Run(timeout, (long)Number(args, "--rows", 16384), (long)Number(args, "--cols", 512), (int)Number(args, "--repeats", 20));
                default:
                    Console.Error.WriteLine($"unknown scenario '{args[0]}'");
                    return 2;
            }
        }

        /// <summary>
        /// How long construction waits for the other ranks: generous, since on a loaded machine the ranks' .NET start-up
        /// can differ by seconds, while the scenarios' collective timeouts are short.
        /// </summary>
        internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(90);

        /// <summary>The number after <paramref name="name"/> on the command line, or <paramref name="fallback"/>.</summary>
        internal static double Number(string[] args, string name, double fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }

        /// <summary>Writes one line tagged with the rank and flushes, so that lines survive an abrupt end of the process.</summary>
        internal static void Say(int rank, string text)
        {
            Console.Out.WriteLine($"[rank {rank}] {text}");
            Console.Out.Flush();
        }

        internal static string Join(System.Collections.Generic.IEnumerable<long> values) => string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
    }
}
