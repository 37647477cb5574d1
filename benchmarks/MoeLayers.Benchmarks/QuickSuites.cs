using System;
using System.Collections.Generic;

namespace MoeLayers.Benchmarks
{
    /// <summary>The suites quick mode can run, by name.</summary>
    public static class QuickSuites
    {
        private static readonly Dictionary<string, Action> Suites = new()
        {
            ["dispatch"] = Dispatch,
        };

        public static void Register(string name, Action suite) => Suites[name] = suite;

        public static void Run(string name)
        {
            if (!Suites.TryGetValue(name, out var suite))
                throw new ArgumentException($"Unknown quick suite '{name}'; known: {string.Join(", ", Suites.Keys)}.", nameof(name));
            suite();
        }

        private static void Dispatch()
        {
            using (var small = new DispatchCases(BenchShape.Small)) small.RunQuick(warmup: 5, rounds: 41, includeReference: true);
            using (var large = new DispatchCases(BenchShape.Large)) large.RunQuick(warmup: 2, rounds: 9, includeReference: true);
        }
    }
}
