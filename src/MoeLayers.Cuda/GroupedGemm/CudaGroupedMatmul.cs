using System;
using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The grouped matmul the fused dispatch hands to expert banks: each call runs the projection as one grouped GEMM
    /// (<see cref="IGroupedGemmRunner"/>, cuBLAS's cublasGemmGroupedBatchedEx on CUDA) when the runner takes these operands,
    /// and otherwise the portable per-expert products (<see cref="PerExpertMatmul"/>, the behaviour before), saying why
    /// once per distinct reason. Tensors the runner does not serve (CPU tensors in the kernels' tests) take the per-expert
    /// products without a word. A library call that fails (forward or backward) is reported the same way, and that device
    /// and dtype then stay on the per-expert products for the rest of the process.
    /// Setting <see cref="SwitchVariable"/> to 0 forces the per-expert products (benchmarks compare the two).
    /// </summary>
    internal sealed class CudaGroupedMatmul : IGroupedMatmul
    {
        /// <summary>Environment variable that turns the grouped GEMM off when set to 0 (read on every call).</summary>
        public const string SwitchVariable = "MOELAYERS_CUDA_GROUPED_GEMM";

        private readonly IGroupedGemmRunner _runner;
        private readonly Action<string> _log;
        private readonly ConcurrentDictionary<string, bool> _logged = new();
        private readonly ConcurrentDictionary<(int Device, ScalarType DType), string> _failed = new();

        /// <summary>Creates the chooser.</summary>
        /// <param name="runner">The grouped GEMM.</param>
        /// <param name="log">Where a fallback's reason goes, once per reason (standard error in the package).</param>
        public CudaGroupedMatmul(IGroupedGemmRunner runner, Action<string> log)
        {
            _runner = runner;
            _log = log;
        }

        /// <summary>The package's instance: cuBLAS, reasons to standard error.</summary>
        public static CudaGroupedMatmul Default { get; } = new(CublasGroupedGemm.Instance, message => Console.Error.WriteLine(message));

        /// <inheritdoc />
        public Tensor Multiply(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null)
        {
            PerExpertMatmul.CheckShapes(rows, counts, weights, bias);
            return GroupedGemmFunction.Multiply(rows, counts, weights, bias, Products(rows, counts, weights));
        }

        /// <inheritdoc />
        public GroupedProducts Products(Tensor rows, long[] counts, Tensor weights)
        {
            var why = WhyPerExpert(rows, counts, weights);
            if (why is not null)
            {
                Fallback(rows.device, why);
                return GroupedProducts.PerExpert;
            }
            var (device, key) = (rows.device, (rows.device_index, rows.dtype));
            return GroupedProducts.Library(_runner, e => Fallback(device, _failed.GetOrAdd(key,
                $"the grouped GEMM failed on {device} for {key.dtype} ({e.Message}); this process keeps the per-expert products for it.")));
        }

        /// <inheritdoc />
        /// <remarks>
        /// False: whether cuBLAS's grouped GEMM beats the padded buffer has not been measured on a GPU, so the fused
        /// dispatch keeps the core's shape rule (<see cref="SortedDispatcher.UsePadded(DispatchStrategy, long[])"/>).
        /// </remarks>
        public bool Batches(Device device, ScalarType dtype, long[] counts) => false;

        /// <summary>Null when this call runs as one grouped GEMM; otherwise why it runs per expert.</summary>
        /// <param name="rows">Rows [M, d].</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="weights">Weights [E, d, h].</param>
        internal string? WhyPerExpert(Tensor rows, long[] counts, Tensor weights)
        {
            if (Environment.GetEnvironmentVariable(SwitchVariable) == "0") return $"{SwitchVariable}=0.";
            if (_failed.TryGetValue((rows.device_index, rows.dtype), out var failure)) return failure;
            if (rows.shape[0] > int.MaxValue) return $"{rows.shape[0]} rows exceed the grouped GEMM's 32-bit row counts.";
            return _runner.Unavailable(rows, counts, weights);
        }

        private void Fallback(Device device, string why)
        {
            if (_runner.Serves(device) && _logged.TryAdd(why, true))
                _log($"MoeLayers.Cuda: expert products run one per expert instead of as one grouped GEMM: {why}");
        }
    }
}
