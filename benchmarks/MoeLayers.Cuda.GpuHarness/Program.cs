using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers;
using MoeLayers.Cuda.GpuHarness;
using static TorchSharp.torch;

// Usage: MoeLayers.Cuda.GpuHarness COMMAND [options]
//   probe          load TorchSharp on PyTorch's libtorch (MOELAYERS_TORCH_LIB) and report each step; exit 0 when CUDA works
//   check-torch    TorchSharp alone on the GPU against the CPU (no MoeLayers.Cuda code)
//   check-fused    the fused kernels, per-expert products, against the TorchSharp dispatch on the GPU and the CPU
//   check-grouped  cuBLAS's grouped GEMM directly and in the fused layer, every dtype; a whole model in bfloat16
//   check          the three check stages in order;  bench   the benchmark;  all   check then bench
// Options: --shape coarse|fine|all (all)  --dtype fp32|bf16|all (all)  --activation swiglu|gelu|relu (swiglu)
//          --warmup N (5)  --rounds N (21)  --json FILE (append one JSON line per benchmark case)
var command = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
var known = new[] { "probe", "check-torch", "check-fused", "check-grouped", "check", "bench", "all" };
if (!known.Contains(command))
{
    Console.Error.WriteLine($"unknown command '{command}'; one of {string.Join(", ", known)}");
    return 64;
}
string? Option(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
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
var stages = command switch
{
    "check-torch" => new[] { "torch" },
    "check-fused" => new[] { "fused" },
    "check-grouped" => new[] { "grouped" },
    "check" or "all" => new[] { "torch", "fused", "grouped" },
    _ => Array.Empty<string>(),
};
foreach (var stage in stages)
{
    log.WriteLine($"== checks: {stage}");
    log.Flush();
    var results = stage switch
    {
        "torch" => GpuChecks.TorchSharpOnly(device),
        "fused" => GpuChecks.Fused(device),
        _ => GpuChecks.Grouped(device),
    };
    foreach (var result in results)
    {
        log.WriteLine(result);
        if (!result.Passed) failures++;
    }
    log.Flush();
}
if (command is "bench" or "all")
{
    var shapes = (Option("--shape") ?? "all") switch
    {
        "coarse" => new[] { BenchShape.Coarse },
        "fine" => new[] { BenchShape.Fine },
        _ => new[] { BenchShape.Coarse, BenchShape.Fine },
    };
    var dtypes = (Option("--dtype") ?? "all") switch
    {
        "fp32" => new[] { ScalarType.Float32 },
        "bf16" => new[] { ScalarType.BFloat16 },
        _ => new[] { ScalarType.BFloat16, ScalarType.Float32 },
    };
    var activation = (Option("--activation") ?? "swiglu") switch
    {
        "gelu" => ExpertActivation.Gelu,
        "relu" => ExpertActivation.Relu,
        _ => ExpertActivation.SwiGlu,
    };
    var settings = new BenchSettings(activation, int.Parse(Option("--warmup") ?? "5"), int.Parse(Option("--rounds") ?? "21"));
    var json = Option("--json");
    foreach (var shape in shapes)
    {
        foreach (var dtype in dtypes)
        {
            IReadOnlyList<string> lines;
            try
            {
                lines = DispatchBenchmark.Run(device, shape, dtype, settings, log);
            }
            catch (Exception e)
            {
                log.WriteLine($"FAIL  benchmark {shape} {DispatchBenchmark.DTypeName(dtype)}: {e.GetType().Name}: {e.Message}");
                failures++;
                continue;
            }
            if (json is not null) File.AppendAllLines(json, lines);
            log.Flush();
        }
    }
}
log.WriteLine(failures == 0 ? "harness: all passed" : $"harness: {failures} failure(s)");
return failures == 0 ? 0 : 1;
