using System;
using System.Linq;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>Tensor facts the collectives exchange and check: dtype names, row shapes, raw addresses.</summary>
    internal static class TensorPayload
    {
        // The data address of a CPU tensor (element 0, storage offset included), through the native export TorchSharp's own
        // P/Invoke declaration wraps, so it resolves to the library TorchSharp loaded; Tensor.bytes exposes the same
        // address but as a Span, limited to 2 GiB.
        private static readonly Lazy<Func<IntPtr, IntPtr>?> TensorData = new(BindTensorData);

        /// <summary>PyTorch's name of a dtype (float32, bfloat16, int64, ...).</summary>
        public static string DtypeName(ScalarType dtype) => dtype switch
        {
            ScalarType.Byte => "uint8",
            ScalarType.Int8 => "int8",
            ScalarType.Int16 => "int16",
            ScalarType.Int32 => "int32",
            ScalarType.Int64 => "int64",
            ScalarType.Float16 => "float16",
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float32 => "float32",
            ScalarType.Float64 => "float64",
            ScalarType.ComplexFloat32 => "complex64",
            ScalarType.ComplexFloat64 => "complex128",
            ScalarType.Bool => "bool",
            _ => dtype.ToString(),
        };

        /// <summary>The name of a dtype code as exchanged between ranks (the <see cref="ScalarType"/> value).</summary>
        public static string DtypeName(long code) => Enum.IsDefined(typeof(ScalarType), (sbyte)code) ? DtypeName((ScalarType)(sbyte)code) : $"dtype code {code}";

        /// <summary>FNV-1a hash of a shape, to compare shapes across ranks in one number.</summary>
        public static long ShapeHash(ReadOnlySpan<long> dims)
        {
            unchecked
            {
                var hash = (long)14695981039346656037UL;
                hash = (hash ^ dims.Length) * 1099511628211L;
                foreach (var d in dims) hash = (hash ^ d) * 1099511628211L;
                return hash;
            }
        }

        /// <summary>"[*, 8, 4]" for rows of shape [8, 4] (leading star: any number of rows), or "[3, 4]".</summary>
        public static string ShapeText(ReadOnlySpan<long> dims, bool rows)
        {
            var parts = dims.ToArray().Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return "[" + string.Join(", ", rows ? new[] { "*" }.Concat(parts) : parts) + "]";
        }

        /// <summary>
        /// A contiguous CPU tensor with <paramref name="tensor"/>'s values, detached from autograd: the tensor itself (a new
        /// handle to the same storage) when it is one already, else a copy. Created in the current dispose scope.
        /// </summary>
        public static Tensor ContiguousCpu(Tensor tensor)
        {
            var detached = tensor.detach();
            var cpu = detached.device_type == DeviceType.CPU ? detached : detached.cpu();
            return cpu.is_contiguous() ? cpu : cpu.contiguous();
        }

        /// <summary>Address of element 0 of a contiguous CPU tensor; <see cref="IntPtr.Zero"/> for an empty one.</summary>
        public static unsafe IntPtr Address(Tensor contiguousCpu)
        {
            if (contiguousCpu.numel() == 0) return IntPtr.Zero;
            if (contiguousCpu.device_type != DeviceType.CPU || !contiguousCpu.is_contiguous())
                throw new InvalidOperationException("Internal error: a collective's buffer must be a contiguous CPU tensor.");
            var bind = TensorData.Value;
            if (bind != null)
            {
                var address = bind(contiguousCpu.Handle);
                if (address == IntPtr.Zero) throw new InvalidOperationException("TorchSharp returned no data address for a non-empty tensor.");
                return address;
            }
            var bytes = checked(contiguousCpu.numel() * contiguousCpu.element_size());
            if (bytes > int.MaxValue)
                throw new NotSupportedException($"This TorchSharp version exposes tensor memory only as a Span (≤ 2 GiB); the tensor holds {bytes} bytes. Split it.");
            fixed (byte* p = contiguousCpu.bytes) return (IntPtr)p;
        }

        private static Func<IntPtr, IntPtr>? BindTensorData()
        {
            var methods = typeof(Tensor).Assembly.GetType("TorchSharp.PInvoke.NativeMethods");
            var method = methods?.GetMethod("THSTensor_data", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static, new[] { typeof(IntPtr) });
            return method is null || method.ReturnType != typeof(IntPtr) ? null : method.CreateDelegate<Func<IntPtr, IntPtr>>();
        }
    }
}
