using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>One launch argument: a contiguous tensor passed as a view, or an int.</summary>
    internal readonly struct KernelArgument
    {
        private KernelArgument(Tensor? tensor, int value)
        {
            Tensor = tensor;
            Value = value;
        }

        /// <summary>The tensor of a view argument, else null.</summary>
        public Tensor? Tensor { get; }

        /// <summary>The value of an int argument.</summary>
        public int Value { get; }

        /// <summary>A view over a contiguous tensor.</summary>
        public static implicit operator KernelArgument(Tensor tensor) => new(tensor ?? throw new ArgumentNullException(nameof(tensor)), 0);

        /// <summary>An int argument.</summary>
        public static implicit operator KernelArgument(int value) => new(null, value);

        /// <summary>
        /// Checks the arguments against the kernel's parameters (count, kinds, element size and kind, contiguity, one
        /// device, and for 16-byte packet views a byte size and address that are multiples of 16) before anything reaches
        /// native code; a mismatch is a bug in this package, reported with the kernel's name.
        /// </summary>
        /// <param name="kernel">The kernel.</param>
        /// <param name="arguments">The arguments.</param>
        public static void Validate(KernelDefinition kernel, IReadOnlyList<KernelArgument> arguments)
        {
            if (arguments.Count != kernel.Parameters.Count)
                throw new ArgumentException($"{kernel.Name} takes {kernel.Parameters.Count} arguments; got {arguments.Count}.", nameof(arguments));
            Device? device = null;
            for (var i = 0; i < arguments.Count; i++)
            {
                var parameter = kernel.Parameters[i];
                var tensor = arguments[i].Tensor;
                if (parameter.IsView != tensor is not null)
                    throw new ArgumentException($"{kernel.Name}: argument {parameter.Name} must be {(parameter.IsView ? "a tensor" : "an int")}.", nameof(arguments));
                if (tensor is null) continue;
                if (!Matches(parameter.ElementType!, tensor.dtype))
                    throw new ArgumentException($"{kernel.Name}: argument {parameter.Name} must hold {parameter.ElementType!.Name} elements; got {tensor.dtype}.", nameof(arguments));
                if (!tensor.is_contiguous())
                    throw new ArgumentException($"{kernel.Name}: argument {parameter.Name} must be contiguous.", nameof(arguments));
                if (parameter.IsPacket && !IsPacketAligned(tensor))
                    throw new ArgumentException($"{kernel.Name}: argument {parameter.Name} is read in 16-byte packets, so its size and address must be multiples of 16.", nameof(arguments));
                if (device is null) device = tensor.device;
                else if (device.type != tensor.device_type || device.index != tensor.device_index)
                    throw new ArgumentException($"{kernel.Name}: argument {parameter.Name} is on {tensor.device} but earlier ones are on {device}.", nameof(arguments));
            }
        }

        /// <summary>The length of the view over <paramref name="tensor"/> for <paramref name="parameter"/>: its bytes in view elements.</summary>
        /// <param name="parameter">A view parameter.</param>
        /// <param name="tensor">Its tensor.</param>
        public static long ViewLength(KernelParameter parameter, Tensor tensor) => tensor.numel() * tensor.element_size() / parameter.ElementSize;

        /// <summary>Whether a contiguous tensor can be read in 16-byte packets: byte size and first address multiples of 16.</summary>
        /// <param name="tensor">A contiguous tensor.</param>
        public static bool IsPacketAligned(Tensor tensor) =>
            tensor.numel() * tensor.element_size() % 16 == 0 && (tensor.numel() == 0 || TensorMemory.Address(tensor) % 16 == 0);

        private static bool Matches(Type element, ScalarType dtype) =>
            (element == typeof(Float4) && dtype == ScalarType.Float32)
            || (element == typeof(Half8) && dtype is ScalarType.BFloat16 or ScalarType.Float16)
            || (element == typeof(float) && dtype == ScalarType.Float32)
            || (element == typeof(int) && dtype == ScalarType.Int32)
            || (element == typeof(long) && dtype == ScalarType.Int64)
            || (element == typeof(ushort) && dtype is ScalarType.BFloat16 or ScalarType.Float16);
    }
}
