using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Where the core finds the fused CUDA dispatch. MoeLayers.Cuda registers itself from its module initializer; an
    /// application that references the package without touching any of its types gets it too, because the first lookup
    /// loads the assembly by name and runs that initializer.
    /// </summary>
    internal static class DispatchAccelerators
    {
        /// <summary>The assembly (and NuGet package) providing the CUDA accelerator.</summary>
        public const string CudaPackage = "MoeLayers.Cuda";

        private static readonly object Gate = new();
        private static IDispatchAccelerator? _cuda;
        private static bool _probed;

        /// <summary>Registers the CUDA accelerator; called by MoeLayers.Cuda when it loads.</summary>
        /// <param name="accelerator">The accelerator.</param>
        public static void RegisterCuda(IDispatchAccelerator accelerator)
        {
            ArgumentNullException.ThrowIfNull(accelerator);
            lock (Gate) _cuda = accelerator;
        }

        /// <summary>The CUDA accelerator, or null when MoeLayers.Cuda is not part of the application.</summary>
        public static IDispatchAccelerator? Cuda
        {
            get
            {
                lock (Gate)
                {
                    if (_cuda is null && !_probed)
                    {
                        _probed = true;
                        TryLoad(CudaPackage);
                    }
                    return _cuda;
                }
            }
        }

        /// <summary>
        /// Picks the dispatch path for one forward: the accelerator's when the mode, the strategy and the input's device allow
        /// it, otherwise <paramref name="fallback"/>. Throws <see cref="InvalidOperationException"/> naming what is missing
        /// when <paramref name="mode"/> is <see cref="CudaDispatchMode.Always"/> and it cannot be honoured.
        /// </summary>
        /// <param name="mode">The layer's UseCudaDispatch option.</param>
        /// <param name="strategy">The layer's Dispatch option.</param>
        /// <param name="device">The input's device.</param>
        /// <param name="unavailable">Asks the accelerator what, if anything, keeps it from this input.</param>
        /// <param name="fallback">The TorchSharp dispatcher.</param>
        /// <param name="findCuda">Looks up the CUDA accelerator (<see cref="Cuda"/> outside tests).</param>
        internal static DispatchPath Choose(CudaDispatchMode mode, DispatchStrategy strategy, Device device,
            Func<IDispatchAccelerator, string?> unavailable, IExpertDispatcher fallback, Func<IDispatchAccelerator?> findCuda)
        {
            var portable = new DispatchPath(fallback, null);
            if (mode == CudaDispatchMode.Never || strategy == DispatchStrategy.Reference) return portable;
            var always = mode == CudaDispatchMode.Always;
            if (device.type != DeviceType.CUDA)
            {
                return always
                    ? throw new InvalidOperationException(
                        $"UseCudaDispatch is Always but the input is on {device}: the fused dispatch runs on CUDA tensors only. "
                        + "Move the layer and its input to a CUDA device, or set UseCudaDispatch to Auto.")
                    : portable;
            }
            var accelerator = findCuda();
            if (accelerator is null)
            {
                return always
                    ? throw new InvalidOperationException(
                        $"UseCudaDispatch is Always but the {CudaPackage} package is not loaded: reference {CudaPackage} from the application project.")
                    : portable;
            }
            var missing = unavailable(accelerator);
            if (missing is null) return new DispatchPath(accelerator.Dispatcher(strategy), accelerator);
            return always
                ? throw new InvalidOperationException($"UseCudaDispatch is Always but the fused CUDA dispatch cannot run on {device}: {missing}")
                : portable;
        }

        private static void TryLoad(string assemblyName)
        {
            try
            {
                var assembly = Assembly.Load(new AssemblyName(assemblyName));
                RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                // Not referenced by the application: the TorchSharp dispatch is used.
            }
        }
    }
}
