using System;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoeLayers.Cuda
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
            var slots = (long*)NativeMemory.AlignedAlloc((nuint)(count * 2 * sizeof(long)), 16);
            var pointers = stackalloc void*[count];
            try
            {
                Pack(kernel, arguments, new Span<long>(slots, count * 2));
                for (var i = 0; i < count; i++) pointers[i] = slots + 2 * i;
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

        /// <summary>
        /// Writes the launch parameters, two longs per argument: a view as (address, length in view elements), the layout
        /// ILGPU's PTX reads; an int in the low 4 bytes of its slot (the driver copies 4 bytes for a .b32 parameter).
        /// </summary>
        /// <param name="kernel">The kernel (its view element sizes).</param>
        /// <param name="arguments">The arguments.</param>
        /// <param name="slots">2 · arguments.Length longs.</param>
        internal static void Pack(KernelDefinition kernel, KernelArgument[] arguments, Span<long> slots)
        {
            slots.Clear();
            for (var i = 0; i < arguments.Length; i++)
            {
                if (arguments[i].Tensor is { } tensor)
                {
                    slots[2 * i] = TensorMemory.Address(tensor);
                    slots[2 * i + 1] = KernelArgument.ViewLength(kernel.Parameters[i], tensor);
                }
                else
                {
                    MemoryMarshal.Write(MemoryMarshal.AsBytes(slots.Slice(2 * i, 1)), arguments[i].Value);
                }
            }
        }
    }
}
