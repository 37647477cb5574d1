using System;
using System.Runtime.InteropServices;
using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>What one kernel parameter is: a view over a tensor of some element type, or a 32-bit integer.</summary>
    /// <param name="Name">The C# parameter name.</param>
    /// <param name="ElementType">For a view, its element type (float, ushort, int, long, or a 16-byte row packet:
    /// <see cref="Float4"/>, <see cref="Half8"/>); null for an int scalar.</param>
    internal sealed record KernelParameter(string Name, Type? ElementType)
    {
        /// <summary>Whether the parameter is an <see cref="ArrayView{T}"/>.</summary>
        public bool IsView => ElementType is not null;

        /// <summary>Bytes of one view element (0 for an int scalar): the view's length is the tensor's bytes divided by this.</summary>
        public int ElementSize => ElementType is null ? 0 : Marshal.SizeOf(ElementType);

        /// <summary>Whether the view reads 16-byte packets of a row tensor, which must then be 16-byte aligned.</summary>
        public bool IsPacket => ElementType == typeof(Float4) || ElementType == typeof(Half8);

        /// <summary>Bytes of the parameter in the launch buffer: a view is (address, length), 8 + 8 bytes, as ILGPU's PTX reads it.</summary>
        public int ByteSize => IsView ? 16 : sizeof(int);

        /// <summary>Alignment in the launch buffer.</summary>
        public int Alignment => IsView ? 8 : sizeof(int);

        /// <summary>Reads a parameter of a kernel method; only ArrayView&lt;T&gt; and int are used by the kernels.</summary>
        /// <param name="parameter">The reflected parameter.</param>
        public static KernelParameter From(System.Reflection.ParameterInfo parameter)
        {
            var type = parameter.ParameterType;
            if (type == typeof(int)) return new KernelParameter(parameter.Name!, null);
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>))
                return new KernelParameter(parameter.Name!, type.GetGenericArguments()[0]);
            throw new NotSupportedException($"Kernel parameter {parameter.Name} has type {type}; kernels take ArrayView<T> and int only.");
        }
    }
}
