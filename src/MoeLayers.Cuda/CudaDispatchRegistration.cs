using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Registers the fused CUDA dispatch with the core, and cuBLAS's grouped GEMM with the core's grouped matmul
    /// (<see cref="LibraryGroupedMatmul.Default"/>), as soon as this assembly loads.
    /// </summary>
    internal static class CudaDispatchRegistration
    {
        /// <summary>The CUDA accelerator every MoE layer shares.</summary>
        public static readonly CudaDispatchAccelerator Accelerator = new(new FusedKernels(CudaLauncher.Instance, new LaunchGeometry()));

        [ModuleInitializer]
        [SuppressMessage("Usage", "CA2255", Justification = "The core looks this package up by assembly name; registering on load is the point.")]
        internal static void Register()
        {
            DispatchAccelerators.RegisterCuda(Accelerator);
            LibraryGroupedMatmul.Default.Register(CublasGroupedGemm.Instance);
        }
    }
}
