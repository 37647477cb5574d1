using System;
using System.Reflection;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Raw addresses of tensor data, for handing libtorch memory to kernels without copies.</summary>
    internal static class TensorMemory
    {
        // TorchSharp's public Storage<T> converts the tensor to T's dtype first (a copy for any other dtype, and no T
        // exists for bfloat16/float16), so the address comes from the native export it wraps, bound through TorchSharp's
        // own P/Invoke declaration so that it resolves to the very library TorchSharp loaded.
        private static readonly Lazy<Func<IntPtr, IntPtr>> StorageData = new(BindStorageData);

        /// <summary>
        /// Address of element 0 of a contiguous tensor (storage start plus storage offset): a device address for CUDA
        /// tensors, a host address for CPU tensors. The tensor must stay alive while the address is in use.
        /// </summary>
        /// <param name="tensor">A contiguous tensor.</param>
        public static IntPtr Address(Tensor tensor)
        {
            if (!tensor.is_contiguous())
                throw new ArgumentException($"Kernel arguments must be contiguous; got strides [{string.Join(", ", tensor.stride())}].", nameof(tensor));
            if (tensor.numel() == 0) return IntPtr.Zero;
            var start = StorageData.Value(tensor.Handle);
            if (start == IntPtr.Zero) throw new InvalidOperationException("TorchSharp returned no storage address for a non-empty tensor.");
            return start + checked((nint)(tensor.storage_offset() * tensor.element_size()));
        }

        private static Func<IntPtr, IntPtr> BindStorageData()
        {
            var methods = typeof(Tensor).Assembly.GetType("TorchSharp.PInvoke.NativeMethods");
            var method = methods?.GetMethod("THSStorage_data_ptr", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static, new[] { typeof(IntPtr) });
            if (method is null || method.ReturnType != typeof(IntPtr))
                throw new NotSupportedException("This TorchSharp version has no THSStorage_data_ptr binding; MoeLayers is built for TorchSharp 0.107.");
            return method.CreateDelegate<Func<IntPtr, IntPtr>>();
        }
    }
}
