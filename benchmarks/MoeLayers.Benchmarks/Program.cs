using System;
using BenchmarkDotNet.Running;
using MoeLayers.Benchmarks;

// Quick mode: `dotnet run -c Release --project benchmarks/MoeLayers.Benchmarks -- --quick [suite]`
// prints one line per case with ratios measured in the same run. Anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--quick")
{
    var suite = args.Length > 1 ? args[1] : "dispatch";
    Console.WriteLine($"# MoeLayers quick benchmark, suite={suite}, torch threads={TorchSharp.torch.get_num_threads()}, {Environment.ProcessorCount} cores");
    QuickSuites.Run(suite);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(MoeLayerBenchmarks).Assembly).Run(args);
