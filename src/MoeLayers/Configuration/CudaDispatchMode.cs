namespace MoeLayers
{
    /// <summary>Whether an MoE layer runs its dispatch with the fused CUDA kernels of the MoeLayers.Cuda package.</summary>
    public enum CudaDispatchMode
    {
        /// <summary>Use the fused kernels for CUDA inputs when MoeLayers.Cuda is referenced and usable; otherwise the TorchSharp dispatch.</summary>
        Auto,

        /// <summary>Always use the TorchSharp dispatch.</summary>
        Never,

        /// <summary>Require the fused kernels: a forward on a CPU tensor, or without a usable CUDA setup, throws and says what is missing.</summary>
        Always,
    }
}
