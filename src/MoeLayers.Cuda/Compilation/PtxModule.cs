
namespace MoeLayers.Cuda
{
    /// <summary>Generated PTX of one kernel for one target, with the name of its entry point.</summary>
    /// <param name="Kernel">The kernel.</param>
    /// <param name="Target">The GPU target.</param>
    /// <param name="Ptx">PTX text.</param>
    /// <param name="EntryName">The .entry name to look up in the loaded module.</param>
    internal sealed record PtxModule(KernelDefinition Kernel, CudaTarget Target, string Ptx, string EntryName);
}
