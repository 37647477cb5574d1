using System;
using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The grouped matmul the portable sorted dispatch hands to expert banks on the CPU: each projection runs as one MKL
    /// batched GEMM (<see cref="MklGroupedGemm"/>, inside <see cref="GroupedGemmFunction"/>, whose backward is one batched
    /// call for dX and one for dW; the bias goes through <see cref="GroupedBiasFunction"/>) when the runner takes the
    /// operands (contiguous CPU float32/float64, MKL's entry points found), and otherwise the per-expert products
    /// (<see cref="PerExpertMatmul"/>, the behaviour before), saying why once per distinct reason. Tensors on other devices
    /// take the per-expert products without a word. A failed call is reported the same way, and that dtype then stays on
    /// the per-expert products for the rest of the process. Setting <see cref="SwitchVariable"/> to 0 forces the
    /// per-expert products (benchmarks compare the two).
    /// </summary>
    internal sealed class MklGroupedMatmul : IGroupedMatmul
    {
        /// <summary>Environment variable that turns the CPU grouped GEMM off when set to 0 (read on every call).</summary>
        public const string SwitchVariable = "MOELAYERS_CPU_GROUPED_GEMM";

        private readonly IGroupedGemmRunner _runner;
        private readonly Action<string> _log;
        private readonly ConcurrentDictionary<string, bool> _logged = new();
        private readonly ConcurrentDictionary<ScalarType, string> _failed = new();

        /// <summary>Creates the chooser.</summary>
        /// <param name="runner">The grouped GEMM.</param>
        /// <param name="log">Where a fallback's reason goes, once per reason (standard error by default).</param>
        public MklGroupedMatmul(IGroupedGemmRunner runner, Action<string> log)
        {
            _runner = runner;
            _log = log;
        }

        /// <summary>The library's instance: MKL, reasons to standard error.</summary>
        public static MklGroupedMatmul Default { get; } = new(MklGroupedGemm.Instance, message => Console.Error.WriteLine(message));

        /// <inheritdoc />
        public Tensor Multiply(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null)
        {
            PerExpertMatmul.CheckShapes(rows, counts, weights, bias);
            return GroupedGemmFunction.Multiply(rows, counts, weights, bias, Choose(rows, counts, weights, bias));
        }

        /// <inheritdoc />
        public GroupedProducts Products(Tensor rows, long[] counts, Tensor weights) => Choose(rows, counts, weights, null);

        private GroupedProducts Choose(Tensor rows, long[] counts, Tensor weights, Tensor? bias)
        {
            var why = WhyPerExpert(rows, counts, weights, bias);
            if (why is not null)
            {
                Fallback(rows, why);
                return GroupedProducts.PerExpert;
            }
            var (device, dtype) = (rows.device, rows.dtype);
            return GroupedProducts.Library(_runner, e => Fallback(device, _failed.GetOrAdd(dtype,
                $"the MKL batched GEMM failed for {dtype} ({e.Message}); this process keeps the per-expert products for it.")));
        }

        /// <inheritdoc />
        public bool Batches(Device device, ScalarType dtype, long[] counts) =>
            device.type == DeviceType.CPU && (dtype == ScalarType.Float32 || dtype == ScalarType.Float64)
            && Environment.GetEnvironmentVariable(SwitchVariable) != "0" && !_failed.ContainsKey(dtype)
            && _runner.Serves(device) && _runner.PaysFor(counts) && MklGroupedGemm.Available;

        /// <summary>Null when this call runs as one batched GEMM; otherwise why it runs per expert.</summary>
        /// <param name="rows">Rows [M, d].</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="weights">Weights [E, d, h].</param>
        /// <param name="bias">Bias [E, h] or null.</param>
        internal string? WhyPerExpert(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null)
        {
            if (Environment.GetEnvironmentVariable(SwitchVariable) == "0") return $"{SwitchVariable}=0.";
            if (_failed.TryGetValue(rows.dtype, out var failure)) return failure;
            if (bias is not null && bias.dtype != rows.dtype) return $"the bias is {bias.dtype} and the rows {rows.dtype}.";
            return _runner.Unavailable(rows, counts, weights);
        }

        private void Fallback(Tensor rows, string why) => Fallback(rows.device, why);

        private void Fallback(Device device, string why)
        {
            if (_runner.Serves(device) && _logged.TryAdd(why, true))
                _log($"MoeLayers: expert products run one per expert instead of as one MKL batched GEMM: {why}");
        }
    }
}
