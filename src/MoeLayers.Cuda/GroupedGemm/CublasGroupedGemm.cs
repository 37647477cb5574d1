using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The grouped GEMM as one cublasGemmGroupedBatchedEx call on CUDA tensors: its own cuBLAS handle per device, created
    /// in the device's primary context (libtorch's) and bound to the legacy default stream, where TorchSharp, which
    /// exposes no stream API, runs all its CUDA work; so the call is ordered with the tensor operations around it without
    /// any synchronization. The 3·P problem pointers go to the device from pinned memory, asynchronously. float32 follows
    /// torch.backends.cuda.matmul.allow_tf32 (off by default, as in PyTorch): on, cuBLAS may round inputs to TF32.
    /// </summary>
    internal sealed class CublasGroupedGemm : IGroupedGemmRunner
    {
        /// <summary>The process-wide runner.</summary>
        public static readonly CublasGroupedGemm Instance = new();

        private static readonly Lazy<(CublasApi? Api, string? Failure)> Library = new(() =>
        {
            var failure = CublasApi.TryLoad(out var api);
            return (api, failure);
        });

        private readonly ConcurrentDictionary<int, Lazy<(IntPtr Handle, string? Failure)>> _handles = new();
        private readonly object _gate = new();

        private CublasGroupedGemm()
        {
        }

        /// <summary>The loaded library and version, or why there is none (for the harness's report).</summary>
        public static string Describe()
        {
            var (api, failure) = Library.Value;
            return api is null ? "unavailable: " + failure : $"{api.Path}, cuBLAS {api.Version}";
        }

        /// <inheritdoc />
        public string Name => "cuBLAS grouped GEMM";

        /// <inheritdoc />
        /// <remarks>MOELAYERS_CUDA_GROUPED_GEMM.</remarks>
        public string SwitchVariable => "MOELAYERS_CUDA_GROUPED_GEMM";

        /// <inheritdoc />
        public bool Serves(Device device) => device.type == DeviceType.CUDA;

        /// <inheritdoc />
        /// <remarks>
        /// False: whether cuBLAS's grouped GEMM beats the padded buffer has not been measured on a GPU, so the fused
        /// dispatch keeps the core's shape rule (<see cref="SortedDispatcher.UsePadded(DispatchStrategy, long[])"/>).
        /// </remarks>
        public bool BeatsPaddedBuffer(ScalarType dtype) => false;

        /// <inheritdoc />
        public string? Unavailable(Tensor rows, long[] counts, Tensor weights)
        {
            if (rows.device_type != DeviceType.CUDA || weights.device_type != DeviceType.CUDA)
                return $"the rows are on {rows.device} and the weights on {weights.device}, not both on a CUDA device.";
            if (DataType(rows.dtype) is null || rows.dtype != weights.dtype)
                return $"cuBLAS's grouped GEMM takes float32, bfloat16 or float16 rows and weights of one dtype; got {rows.dtype} and {weights.dtype}.";
            if (CudaDevices.WhyUnavailable(rows.device_index) is { } noDevice) return noDevice;
            var (api, failure) = Library.Value;
            if (api is null) return failure;
            if (Handle(rows.device_index).Failure is { } noHandle) return noHandle;
            var (d, h) = (weights.shape[1], weights.shape[2]);
            if (d > int.MaxValue || h > int.MaxValue) return $"d = {d} or h = {h} exceeds cuBLAS's 32-bit dimensions.";
            // 16-bit types and TF32 need 16-byte aligned matrices (cuBLAS's rule); every group starts at a multiple of a
            // row, so rows of d and h elements that are multiples of 16 bytes, and aligned tensors, suffice for every pass.
            var alignment = RequiredAlignment(rows.dtype);
            var size = rows.element_size();
            if (d * size % alignment != 0 || h * size % alignment != 0)
                return $"rows of d = {d} and h = {h} {rows.dtype} elements are not multiples of {alignment} bytes, which cuBLAS's grouped GEMM needs for this dtype.";
            if (TensorMemory.Address(rows.contiguous()) % alignment != 0 || TensorMemory.Address(weights.contiguous()) % alignment != 0)
                return $"the rows or weights do not start at a multiple of {alignment} bytes.";
            return null;
        }

        /// <inheritdoc />
        public void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c)
        {
            if (problems.Count == 0) return;
            var (api, failure) = Library.Value;
            if (api is null) throw new CudaUnavailableException("cuBLAS: " + failure);
            var dataType = DataType(c.dtype) ?? throw new NotSupportedException($"cuBLAS's grouped GEMM does not take {c.dtype}.");
            var device = CudaDevices.Get(c.device_index);
            var (handle, noHandle) = Handle(c.device_index);
            if (noHandle is not null) throw new CudaUnavailableException(noHandle);
            var pointers = GroupedGemmPlan.Pointers(problems, TensorMemory.Address(a), TensorMemory.Address(b), TensorMemory.Address(c), (int)c.element_size());
            using var host = tensor(pointers).pin_memory();
            using var onDevice = host.to(c.device, non_blocking: true);
            var compute = c.dtype == ScalarType.Float32 && torch.backends.cuda.matmul.allow_tf32 ? CublasApi.Compute32FFastTf32 : CublasApi.Compute32F;
            var address = TensorMemory.Address(onDevice);
            // One handle per device, used from the forward thread and from autograd's device thread: one call at a time.
            lock (_gate) device.InContext(() => api.GemmGroupedBatched(handle, problems, address, dataType, compute));
        }

        /// <summary>The CUDA data type of a dtype, or null.</summary>
        /// <param name="dtype">A tensor dtype.</param>
        internal static int? DataType(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => CublasApi.DataFloat32,
            ScalarType.BFloat16 => CublasApi.DataBFloat16,
            ScalarType.Float16 => CublasApi.DataFloat16,
            _ => null,
        };

        /// <summary>Bytes every matrix pointer must be a multiple of: 16 for 16-bit types and TF32, else the element size.</summary>
        /// <param name="dtype">The dtype.</param>
        internal static int RequiredAlignment(ScalarType dtype) =>
            dtype != ScalarType.Float32 || torch.backends.cuda.matmul.allow_tf32 ? 16 : sizeof(float);

        private (IntPtr Handle, string? Failure) Handle(int ordinal) =>
            _handles.GetOrAdd(ordinal, o => new Lazy<(IntPtr, string?)>(() => CreateHandle(o))).Value;

        private static (IntPtr, string?) CreateHandle(int ordinal)
        {
            try
            {
                var device = CudaDevices.Get(ordinal);
                var handle = IntPtr.Zero;
                device.InContext(() => handle = Library.Value.Api!.CreateHandle(IntPtr.Zero));
                return (handle, null);
            }
            catch (Exception e) when (e is InvalidOperationException)
            {
                return (IntPtr.Zero, $"no cuBLAS handle on cuda:{ordinal}: {e.Message}");
            }
        }
    }
}
