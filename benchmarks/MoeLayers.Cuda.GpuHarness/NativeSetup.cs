using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoeLayers.Cuda.GpuHarness
{
    /// <summary>
    /// Loads TorchSharp against an external CUDA libtorch (PyTorch's torch/lib), step by step, printing what each step
    /// did: the GPU machine has no TorchSharp CUDA package, and whether TorchSharp 0.107 (built for libtorch 2.10) runs
    /// on PyTorch 2.11's libtorch is only known once tried.
    /// </summary>
    public static class NativeSetup
    {
        /// <summary>Preloads libtorch from <paramref name="torchLib"/> and TorchSharp's native library, then initializes CUDA.</summary>
        /// <param name="torchLib">PyTorch's lib folder, or null to rely on TorchSharp's own loader.</param>
        /// <param name="log">Where to print each step.</param>
        /// <returns>True when torch.cuda.is_available() ends up true.</returns>
        public static bool LoadCudaBackend(string? torchLib, TextWriter log)
        {
            log.WriteLine($"[info] {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}, "
                          + $"invariant globalization: {AppContext.TryGetSwitch("System.Globalization.Invariant", out var invariant) && invariant}, "
                          + $"LD_BIND_NOW={Environment.GetEnvironmentVariable("LD_BIND_NOW") ?? "(unset)"}, "
                          + $"CUDA_LAUNCH_BLOCKING={Environment.GetEnvironmentVariable("CUDA_LAUNCH_BLOCKING") ?? "(unset)"}");
            log.WriteLine($"[info] TorchSharp {typeof(torch).Assembly.GetName().Version}, MOELAYERS_TORCH_LIB={torchLib ?? "(unset)"}");
            log.Flush();
            if (torchLib is not null)
            {
                foreach (var name in new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" })
                    Step(log, $"preload {name}", () => NativeLibrary.Load(Path.Combine(torchLib, name)).ToString("x"));
            }
            foreach (var candidate in NativeCandidates())
            {
                if (!File.Exists(candidate)) continue;
                Step(log, $"preload {candidate}", () => NativeLibrary.Load(candidate).ToString("x"));
                break;
            }
            Step(log, "torch.InitializeDeviceType(CUDA)", () =>
            {
                torch.InitializeDeviceType(DeviceType.CUDA);
                return "ok";
            });
            var available = false;
            Step(log, "torch.cuda.is_available()", () => (available = torch.cuda.is_available()).ToString());
            if (available)
            {
                Step(log, "torch.cuda.device_count()", () => torch.cuda.device_count().ToString());
                Step(log, "matmul on cuda:0", () =>
                {
                    using var a = torch.ones(64, 64, device: torch.CUDA);
                    return a.matmul(a).sum().cpu().item<float>().ToString("R");
                });
            }
            Step(log, "MoeLayers.Cuda availability on cuda:0", () => CudaDispatchInfo.WhyUnavailable(0) ?? "available");
            if (available) Step(log, "cuBLAS grouped GEMM", CublasGroupedGemm.Describe);
            return available;
        }

        private static IEnumerable<string> NativeCandidates()
        {
            var root = AppContext.BaseDirectory;
            yield return Path.Combine(root, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            yield return Path.Combine(root, "libLibTorchSharp.so");
        }

        private static void Step(TextWriter log, string what, Func<string> action)
        {
            // Printed before the step too: a native crash (symbol lookup error, segfault) leaves no managed trace.
            log.WriteLine($"[step] {what}");
            log.Flush();
            try
            {
                log.WriteLine($"[ok]   {what}: {action()}");
            }
            catch (Exception e)
            {
                log.WriteLine($"[fail] {what}: {e.GetType().Name}: {e.Message}");
                if (e.InnerException is { } inner) log.WriteLine($"       inner {inner.GetType().Name}: {inner.Message}");
            }
            log.Flush();
        }
    }
}
