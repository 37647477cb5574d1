using System;
using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Turns the C# kernels into PTX with ILGPU's PTX backend: no GPU, CUDA toolkit or NVRTC needed, only the driver
    /// later, which compiles the PTX for the actual GPU (and keeps its own disk cache of the result). Each module is
    /// generated once per (kernel, target) per process and checked against the launcher's argument packing.
    /// </summary>
    internal static class PtxCompiler
    {
        private static readonly Lazy<Context> Context = new(() => ILGPU.Context.Create(builder => builder.Optimize(OptimizationLevel.O2)));
        private static readonly ConcurrentDictionary<CudaTarget, PTXBackend> Backends = new();
        private static readonly ConcurrentDictionary<(KernelDefinition, CudaTarget), PtxModule> Modules = new();
        private static readonly object Gate = new();

        /// <summary>The PTX module of <paramref name="kernel"/> for <paramref name="target"/> (cached).</summary>
        /// <param name="kernel">The kernel.</param>
        /// <param name="target">The GPU target.</param>
        public static PtxModule Compile(KernelDefinition kernel, CudaTarget target) =>
            Modules.GetOrAdd((kernel, target), key => Generate(key.Item1, key.Item2));

        private static PtxModule Generate(KernelDefinition kernel, CudaTarget target)
        {
            string ptx;
            // ILGPU's IR context is shared by the backends; compile one kernel at a time.
            lock (Gate)
            {
                var backend = Backends.GetOrAdd(target, t => new PTXBackend(Context.Value, t.Architecture, t.InstructionSet, null!));
                var entry = EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method);
                ptx = ((PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty)).PTXAssembly;
            }
            var signature = PtxEntrySignature.Parse(ptx);
            var mismatch = signature.Mismatch(kernel);
            if (mismatch is not null)
                throw new InvalidOperationException($"ILGPU generated PTX whose parameters differ from what MoeLayers.Cuda passes ({mismatch}). "
                                                    + "This ILGPU version is not supported by this MoeLayers.Cuda build.");
            return new PtxModule(kernel, target, ptx, signature.Name);
        }
    }
}
