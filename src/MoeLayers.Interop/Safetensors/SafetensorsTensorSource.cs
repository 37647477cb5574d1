using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// One tensor to write: its key, dtype and shape declared up front (the writer lays out files and the index from
    /// them before any tensor exists) and a factory that produces the tensor when its bytes are written, so a model
    /// larger than memory can be written one tensor at a time.
    /// </summary>
    /// <remarks>
    /// The writer calls <see cref="Create"/> once per write, copies the tensor out and disposes what the factory
    /// returned; a factory must therefore return a tensor the writer may dispose (a fresh tensor, or
    /// <c>t.alias()</c> of one the caller keeps). The tensor must have the declared dtype and shape, or the write fails.
    /// </remarks>
    public sealed class SafetensorsTensorSource
    {
        private readonly long[] _shape;
        private readonly Func<Tensor> _create;

        /// <summary>A tensor produced on demand by <paramref name="create"/>.</summary>
        /// <param name="key">The tensor's key in the checkpoint.</param>
        /// <param name="dtype">The dtype the tensor is stored as: F32, F16 or BF16 (see <see cref="SafetensorsDTypes.IsWritable"/>).</param>
        /// <param name="shape">The tensor's shape (empty for a scalar); every dimension at least 0.</param>
        /// <param name="create">Produces the tensor (any device, any strides) of <paramref name="dtype"/> and <paramref name="shape"/>; the writer disposes it.</param>
        /// <exception cref="ArgumentException">The key is empty, a dimension is negative, or the dtype is not written by this library.</exception>
        public SafetensorsTensorSource(string key, SafetensorsDType dtype, IReadOnlyList<long> shape, Func<Tensor> create)
        {
            ArgumentException.ThrowIfNullOrEmpty(key);
            ArgumentNullException.ThrowIfNull(shape);
            ArgumentNullException.ThrowIfNull(create);
            if (!dtype.IsWritable())
                throw new ArgumentException($"tensor '{key}' is declared {dtype.HeaderName()}; MoeLayers.Interop writes {SafetensorsDTypes.WritableNames} only.", nameof(dtype));
            if (shape.Any(d => d < 0))
                throw new ArgumentException($"tensor '{key}' is declared with shape {SafetensorsTensorInfo.FormatShape(shape)}; every dimension must be at least 0.", nameof(shape));
            Key = key;
            DType = dtype;
            _shape = shape.ToArray();
            _create = create;
            ByteLength = checked(_shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.ElementSize());
        }

        /// <summary>The tensor's key in the checkpoint.</summary>
        public string Key { get; }

        /// <summary>The dtype the tensor is stored as.</summary>
        public SafetensorsDType DType { get; }

        /// <summary>The tensor's shape.</summary>
        public IReadOnlyList<long> Shape => _shape;

        /// <summary>Bytes the tensor occupies in a file: the product of the shape times the element size.</summary>
        public long ByteLength { get; }

        internal long[] ShapeArray => _shape;

        /// <summary>
        /// A source for a tensor the caller already holds: dtype and shape are read from it, and the writer reads it
        /// through a new handle (<c>detach()</c>), never disposing <paramref name="tensor"/> itself; keep it alive until
        /// the write returns.
        /// </summary>
        /// <param name="key">The tensor's key in the checkpoint.</param>
        /// <param name="tensor">A Float32, Float16 or BFloat16 tensor (any device, any strides).</param>
        /// <exception cref="ArgumentException">The tensor was disposed or has another dtype.</exception>
        public static SafetensorsTensorSource Of(string key, Tensor tensor)
        {
            ArgumentException.ThrowIfNullOrEmpty(key);
            if (tensor is null || tensor.IsInvalid)
                throw new ArgumentException($"tensor '{key}' is null or disposed.", nameof(tensor));
            if (!SafetensorsDTypes.TryFromScalarType(tensor.dtype, out var dtype))
                throw new ArgumentException(UnwritableDType(key, tensor.dtype), nameof(tensor));
            // detach() always returns a new handle, so disposing what the writer creates never touches the caller's tensor.
            return new SafetensorsTensorSource(key, dtype, tensor.shape, tensor.detach);
        }

        /// <summary>"tensor 'k' has dtype Int64; MoeLayers.Interop writes Float32 (F32), Float16 (F16) and BFloat16 (BF16) only."</summary>
        internal static string UnwritableDType(string key, ScalarType type)
            => $"tensor '{key}' has dtype {type}; MoeLayers.Interop writes {SafetensorsDTypes.WritableNames} only.";

        /// <summary>Calls the factory and checks that it kept its declaration; the caller disposes the result.</summary>
        internal Tensor Create(string path)
        {
            var tensor = _create() ?? throw new InvalidOperationException($"cannot write '{path}': the factory of tensor '{Key}' returned null.");
            if (tensor.IsInvalid || tensor.dtype != DType.ToScalarType() || !tensor.shape.SequenceEqual(_shape))
            {
                var found = tensor.IsInvalid ? "a disposed tensor" : $"{tensor.dtype} {SafetensorsTensorInfo.FormatShape(tensor.shape)}";
                tensor.Dispose();
                throw new InvalidOperationException(
                    $"cannot write '{path}': tensor '{Key}' was declared {DType.ToScalarType()} {SafetensorsTensorInfo.FormatShape(_shape)} but its factory returned {found}.");
            }

            return tensor;
        }
    }
}
