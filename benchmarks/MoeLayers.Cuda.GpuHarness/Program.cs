using System;
using System.Linq;
using MoeLayers.Cuda.GpuHarness;
using static TorchSharp.torch;

// Usage: MoeLayers.Cuda.GpuHarness [probe|check|bench|all] [--tokens N] [--dim D] [--hidden H] [--experts E] [--topk K] [--bf16]
// Set MOELAYERS_TORCH_LIB to PyTorch's torch/lib folder to run TorchSharp on PyTorch's CUDA libtorch.
var command = args.FirstOrDefault(a => !a.StartsWith("--")) ?? "all";
var log = Console.Out;
var cudaReady = NativeSetup.LoadCudaBackend(Environment.GetEnvironmentVariable("MOELAYERS_TORCH_LIB"), log);
if (command == "probe") return cudaReady ? 0 : 1;
if (!cudaReady)
{
    log.WriteLine("CUDA is not available to TorchSharp in this process; nothing to check or time.");
    return 2;
}

var device = CUDA;
var failures = 0;
if (command is "check" or "all")
{
    foreach (var result in GpuChecks.Run(device))
    {
        log.WriteLine(result);
        if (!result.Passed) failures++;
    }
}
if (command is "bench" or "all")
{
    long Arg(string name, long fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? long.Parse(args[i + 1]) : fallback;
    }
    var shape = new BenchShape(Arg("--tokens", 16384), (int)Arg("--dim", 1024), (int)Arg("--hidden", 4096), (int)Arg("--experts", 8),
        (int)Arg("--topk", 2), args.Contains("--bf16") ? ScalarType.BFloat16 : ScalarType.Float32);
    DispatchBenchmark.Run(device, shape, log);
}
return failures == 0 ? 0 : 1;
