using System;
using System.Linq;
using BenchmarkDotNet.Running;
using MoeLayers.Benchmarks;

// Quick mode: `dotnet run -c Release --project benchmarks/MoeLayers.Benchmarks -- --quick [suite] [options]`
// prints one line per case with ratios measured in the same run. Anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--quick")
{
    var suite = args.Length > 1 ? args[1] : "dispatch";
    AllocatorSetting.Apply();
    Console.WriteLine($"# MoeLayers quick benchmark, suite={suite}, torch threads={TorchSharp.torch.get_num_threads()}, {Environment.ProcessorCount} cores, "
        + $"allocator: {AllocatorSetting.Describe()}");
    try
    {
        QuickSuites.Run(suite, args.Skip(2).ToArray());
    }
    catch (BenchmarkSetupException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(MoeLayerBenchmarks).Assembly).Run(args);
return 0;
