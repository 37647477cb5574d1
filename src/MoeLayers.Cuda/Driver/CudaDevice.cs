using System;
using System.Collections.Concurrent;

namespace MoeLayers.Cuda
{
    /// <summary>One GPU: its primary context (shared with libtorch), its PTX target, and the kernels loaded into it.</summary>
    internal sealed class CudaDevice
    {
        private readonly ConcurrentDictionary<KernelDefinition, Lazy<IntPtr>> _functions = new();

        internal CudaDevice(CudaDriverApi api, int ordinal, IntPtr context, CudaTarget target)
        {
            Api = api;
            Ordinal = ordinal;
            Context = context;
            Target = target;
        }

        /// <summary>The driver.</summary>
        public CudaDriverApi Api { get; }

        /// <summary>CUDA device index.</summary>
        public int Ordinal { get; }

        /// <summary>The primary context.</summary>
        public IntPtr Context { get; }

        /// <summary>The PTX target for this GPU.</summary>
        public CudaTarget Target { get; }

        /// <summary>The loaded function of <paramref name="kernel"/>, compiling and loading it on first use.</summary>
        /// <param name="kernel">The kernel.</param>
        public IntPtr Function(KernelDefinition kernel) =>
            _functions.GetOrAdd(kernel, k => new Lazy<IntPtr>(() => Load(k))).Value;

        /// <summary>Runs <paramref name="action"/> with this device's primary context current on the calling thread.</summary>
        /// <param name="action">Driver calls to make.</param>
        public void InContext(Action action)
        {
            Api.PushContext(Context);
            try
            {
                action();
            }
            finally
            {
                Api.PopContext();
            }
        }

        private IntPtr Load(KernelDefinition kernel)
        {
            var module = PtxCompiler.Compile(kernel, Target);
            var function = IntPtr.Zero;
            InContext(() => function = Api.Function(Api.LoadModule(module.Ptx, kernel.Name), module.EntryName));
            return function;
        }
    }
}
