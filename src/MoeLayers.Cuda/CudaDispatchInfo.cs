
namespace MoeLayers.Cuda
{
    /// <summary>Whether the fused CUDA dispatch can run here, and why not.</summary>
    public static class CudaDispatchInfo
    {
        /// <summary>Null when CUDA device <paramref name="deviceIndex"/> can run the fused kernels; otherwise what is missing (no driver, no such device, an old driver or GPU), in words.</summary>
        /// <param name="deviceIndex">CUDA device index, as in cuda:N.</param>
        public static string? WhyUnavailable(int deviceIndex = 0) => CudaDevices.WhyUnavailable(deviceIndex);

        /// <summary>True when CUDA device <paramref name="deviceIndex"/> can run the fused kernels.</summary>
        /// <param name="deviceIndex">CUDA device index.</param>
        public static bool IsAvailable(int deviceIndex = 0) => WhyUnavailable(deviceIndex) is null;
    }
}
