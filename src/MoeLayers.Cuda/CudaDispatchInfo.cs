namespace MoeLayers.Cuda
{
    /// <summary>Describes the state of the CUDA dispatch package.</summary>
    public static class CudaDispatchInfo
    {
        /// <summary>True once fused CUDA kernels are implemented; until then MoE layers use the TorchSharp dispatch on every device.</summary>
        public const bool KernelsAvailable = false;
    }
}
