using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Benchmarks
{
    /// <summary>The suites quick mode can run, by name.</summary>
    public static class QuickSuites
    {
        private static readonly Dictionary<string, Action<IReadOnlyList<string>>> Suites = new()
        {
            ["dispatch"] = WithoutOptions(Dispatch),
            ["dispatch-small"] = WithoutOptions(() => DispatchShape(BenchShape.Small, warmup: 5, rounds: 41)),
            ["dispatch-large"] = WithoutOptions(() => DispatchShape(BenchShape.Large, warmup: 2, rounds: 9)),
            ["dispatch-fine"] = WithoutOptions(() => DispatchShape(BenchShape.Fine, warmup: 2, rounds: 7)),
            ["aoe"] = WithoutOptions(AutonomyOfExperts),
            ["decode"] = WithoutOptions(Decode),
            ["decode-bandwidth"] = WithoutOptions(() => DecodeBandwidthCases.RunQuick(rounds: 21)),
            ["pytorch"] = SideBySideSuite.Run,
            ["gemm"] = WithoutOptions(GroupedGemmCases.RunQuick),
            ["gemm-half"] = WithoutOptions(HalfPrecisionGemmCases.RunQuick),
        };

        /// <summary>Adds (or replaces) a suite that takes no options.</summary>
        public static void Register(string name, Action suite) => Suites[name] = WithoutOptions(suite);

        /// <summary>Runs the suite called <paramref name="name"/> with the arguments that follow its name.</summary>
        public static void Run(string name, IReadOnlyList<string> options)
        {
            if (!Suites.TryGetValue(name, out var suite))
                throw new ArgumentException($"Unknown quick suite '{name}'; known: {string.Join(", ", Suites.Keys)}.", nameof(name));
            suite(options);
        }

        private static Action<IReadOnlyList<string>> WithoutOptions(Action suite) => options =>
        {
            if (options.Count > 0) throw new ArgumentException($"this suite takes no options; got {string.Join(" ", options)}.", nameof(options));
            suite();
        };

        private static void Dispatch()
        {
            DispatchShape(BenchShape.Small, warmup: 5, rounds: 41);
            DispatchShape(BenchShape.Large, warmup: 2, rounds: 9);
            DispatchShape(BenchShape.Fine, warmup: 2, rounds: 7);
        }

        /// <summary>One shape in float32 and bfloat16, interleaved, each against its own floor.</summary>
        private static void DispatchShape(BenchShape shape, int warmup, int rounds)
        {
            using var fp32 = new DispatchCases(shape, ScalarType.Float32);
            using var bf16 = new DispatchCases(shape, ScalarType.BFloat16);
            DispatchCases.RunQuick(new[] { fp32, bf16 }, warmup, rounds, includeReference: true);
        }

        private static void Decode()
        {
            // Decode-sized calls last tens of microseconds: with two OpenMP threads on a shared machine their medians
            // measure the scheduler (a call waits for the second thread), so the suite runs each shape at the default
            // thread count and at one thread.
            var threads = TorchSharp.torch.get_num_threads();
            try
            {
                foreach (var count in threads == 1 ? new[] { 1 } : new[] { threads, 1 })
                {
                    TorchSharp.torch.set_num_threads(count);
                    Console.WriteLine($"# decode: torch threads {count}");
                    foreach (var shape in new[] { BenchShape.Fine, BenchShape.Large })
                    {
                        using var cases = new DecodeCases(shape);
                        cases.RunQuick(warmup: 20, rounds: 201);
                    }
                }
            }
            finally
            {
                TorchSharp.torch.set_num_threads(threads);
            }
        }

        private static void AutonomyOfExperts()
        {
            // One intra-op thread: on a shared 2-core machine two OpenMP threads mostly measure the scheduler (their CPU
            // time includes spinning at barriers while the other thread is descheduled).
            var threads = TorchSharp.torch.get_num_threads();
            TorchSharp.torch.set_num_threads(1);
            Console.WriteLine("# aoe: torch threads set to 1 for this suite");
            try
            {
                using var cases = new AoeCases();
                cases.RunQuick(warmup: 2, rounds: 9, memoryRepeats: 3);
            }
            finally
            {
                TorchSharp.torch.set_num_threads(threads);
            }
        }
    }
}
