using System;
using System.Runtime.InteropServices;
using MoeLayers.Cuda.Driver;
using MoeLayers.Cuda.Memory;
using TorchSharp;

namespace MoeLayers.Cuda.Launch
{
    /// <summary>
    /// Launches the ILGPU-generated PTX through the CUDA driver, in the device's primary context (the one libtorch uses,
    /// so tensor addresses are valid there) and on the legacy default stream, where TorchSharp, which exposes no stream
    /// API, runs all its CUDA work: kernels and tensor ops are ordered without any synchronization.
    /// </summary>
    internal sealed unsafe class CudaLauncher : IKernelLauncher
    {
        /// <summary>The launcher; stateless, the per-device state lives in <see cref="CudaDevices"/>.</summary>
        public static readonly CudaLauncher Instance = new();

        private CudaLauncher()
        {
        }

        /// <inheritdoc />
        public void Launch(KernelDefinition kernel, LaunchDims dims, params KernelArgument[] arguments)
        {
            KernelArgument.Validate(kernel, arguments);
            if (dims.Blocks == 0) return;
            var ordinal = -1;
            foreach (var argument in arguments)
            {
                if (argument.Tensor is not { } tensor) continue;
                if (tensor.device_type != DeviceType.CUDA)
                    throw new ArgumentException($"{kernel.Name}: the CUDA launcher takes CUDA tensors; got one on {tensor.device}.", nameof(arguments));
                ordinal = tensor.device_index;
            }
            var device = CudaDevices.Get(ordinal);
            var function = device.Function(kernel);

            // One 16-byte slot per parameter (a view is address + length), and the pointer array the driver reads.
            var count = arguments.Length;
            var slots = (long*)NativeMemory.AlignedAlloc((nuint)(count * 16), 16);
            var pointers = stackalloc void*[count];
            try
            {
                for (var i = 0; i < count; i++)
                {
                    var slot = slots + 2 * i;
                    if (arguments[i].Tensor is { } tensor)
                    {
                        slot[0] = TensorMemory.Address(tensor);
                        slot[1] = tensor.numel();
                    }
                    else
                    {
                        *(int*)slot = arguments[i].Value;
                    }
                    pointers[i] = slot;
                }
                device.Api.PushContext(device.Context);
                try
                {
                    device.Api.Launch(function, (uint)dims.Blocks, (uint)dims.Threads, pointers, kernel.Name);
                }
                finally
                {
                    device.Api.PopContext();
                }
            }
            finally
            {
                NativeMemory.AlignedFree(slots);
            }
        }
    }
}
