using MoeLayers.Cuda;
using TorchSharp;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>A fact that needs a CUDA GPU usable by both TorchSharp and the fused kernels; skipped, with the reason, elsewhere.</summary>
    public sealed class GpuFactAttribute : FactAttribute
    {
        public GpuFactAttribute()
        {
            if (SkipReason is { } reason) Skip = reason;
        }

        /// <summary>Why GPU tests cannot run in this process, or null when they can.</summary>
        public static string? SkipReason { get; } = FindSkipReason();

        private static string? FindSkipReason()
        {
            TorchSharpNative.EnsureAvailable();
            if (!torch.cuda.is_available())
                return "No CUDA device visible to TorchSharp (torch.cuda.is_available() is false: the test build uses the TorchSharp-cpu backend "
                       + "unless built with -p:TorchSharpBackend=cuda-linux). GPU checks run through scripts/gpu on a GPU machine.";
            return CudaDispatchInfo.WhyUnavailable(0) is { } missing ? "TorchSharp sees a GPU but the fused kernels cannot run: " + missing : null;
        }
    }
}
