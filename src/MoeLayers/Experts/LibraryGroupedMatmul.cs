using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Linq;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The grouped matmul the dispatchers hand to expert banks, on every device: per call, one library call per product
    /// (an <see cref="IGroupedGemmRunner"/>: MKL's batched GEMM on the CPU, built in; cuBLAS's grouped GEMM on CUDA, which
    /// MoeLayers.Cuda registers when it loads) run through <see cref="GroupedGemmFunction"/> (the bias through
    /// <see cref="GroupedBiasFunction"/>), or one TorchSharp product per expert (<see cref="GroupedProducts.PerExpert"/>) where the runner
    /// that serves the rows' device does not take these operands or its switch variable is 0. Rows on a device no
    /// runner serves take the per-expert products without a word. A dtype the serving runner measured to run best as
    /// libtorch's own batched product (<see cref="IGroupedGemmRunner.PadsGroups"/>: bfloat16 and float16 on the CPU) runs
    /// as <see cref="GroupedProducts.PaddedBatch"/> where the padding pays (<see cref="MaxPaddingForBatch"/>), else per
    /// expert, without a word either way.
    /// </summary>
    /// <remarks>
    /// A library call that fails (forward, or backward inside libtorch's autograd engine) is redone per expert for that
    /// call only; the next call tries the library again. Each distinct reason for the per-expert products and each
    /// distinct failure is reported once per instance, while a listener has <see cref="MoeLayersEventSource"/> enabled,
    /// and never to standard error.
    /// </remarks>
    internal sealed class LibraryGroupedMatmul : IGroupedMatmul
    {
        private readonly object _gate = new();
        private readonly ConcurrentDictionary<string, byte> _reported = new();
        private IGroupedGemmRunner[] _runners;

        /// <summary>Creates a chooser over <paramref name="runners"/>; the first that serves a device runs its rows.</summary>
        /// <param name="runners">The grouped GEMMs, in order of preference.</param>
        public LibraryGroupedMatmul(params IGroupedGemmRunner[] runners)
        {
            ArgumentNullException.ThrowIfNull(runners);
            foreach (var runner in runners) ArgumentNullException.ThrowIfNull(runner, nameof(runners));
            _runners = (IGroupedGemmRunner[])runners.Clone();
        }

        /// <summary>
        /// The process-wide instance every dispatcher uses by default: MKL on the CPU (MOELAYERS_CPU_GROUPED_GEMM=0 turns it
        /// off), and cuBLAS on CUDA once MoeLayers.Cuda has loaded (MOELAYERS_CUDA_GROUPED_GEMM=0 turns it off).
        /// </summary>
        public static LibraryGroupedMatmul Default { get; } = new(MklGroupedGemm.Instance);

        /// <summary>An instance with no runner: every product one TorchSharp product per expert (the portable path, and the tests' reference).</summary>
        public static LibraryGroupedMatmul PerExpert { get; } = new();

        /// <summary>The runners, in order of preference.</summary>
        public IReadOnlyList<IGroupedGemmRunner> Runners => Volatile.Read(ref _runners);

        /// <summary>Adds <paramref name="runner"/> after the runners already here (once; a second registration is ignored).</summary>
        /// <param name="runner">The grouped GEMM, e.g. MoeLayers.Cuda's cuBLAS runner, registered from its module initializer.</param>
        public void Register(IGroupedGemmRunner runner)
        {
            ArgumentNullException.ThrowIfNull(runner);
            lock (_gate)
            {
                if (Array.IndexOf(_runners, runner) >= 0) return;
                var runners = new IGroupedGemmRunner[_runners.Length + 1];
                _runners.CopyTo(runners, 0);
                runners[^1] = runner;
                Volatile.Write(ref _runners, runners);
            }
        }

        /// <inheritdoc />
        public Tensor Multiply(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null)
        {
            CheckShapes(rows, counts, weights, bias);
            return GroupedGemmFunction.Multiply(rows, counts, weights, bias, Choose(rows, counts, weights, bias));
        }

        /// <inheritdoc />
        public GroupedProducts Products(Tensor rows, long[] counts, Tensor weights) => Choose(rows, counts, weights, null);

        /// <inheritdoc />
        /// <remarks>What the runner serving <paramref name="device"/> says (<see cref="IGroupedGemmRunner.BeatsPaddedBuffer"/>), unless it is switched off or does not pay for these counts.</remarks>
        public bool Batches(Device device, ScalarType dtype, long[] counts) =>
            RunnerFor(device) is { } runner && !SwitchedOff(runner) && runner.PaysFor(counts) && runner.BeatsPaddedBuffer(dtype);

        /// <inheritdoc />
        /// <remarks>The rule <see cref="Multiply"/> follows: the runner pads this dtype (<see cref="IGroupedGemmRunner.PadsGroups"/>) and <see cref="PaddingPays"/>.</remarks>
        public bool PadsGroups(Device device, ScalarType dtype, long[] counts) =>
            RunnerFor(device) is { } runner && !SwitchedOff(runner) && runner.PadsGroups(dtype) && PaddingPays(counts);

        /// <summary>The first runner that serves <paramref name="device"/>, or null.</summary>
        /// <param name="device">The rows' device.</param>
        internal IGroupedGemmRunner? RunnerFor(Device device)
        {
            foreach (var runner in Volatile.Read(ref _runners))
            {
                if (runner.Serves(device)) return runner;
            }
            return null;
        }

        /// <summary>Null when this call runs as library calls; otherwise why it runs per expert.</summary>
        /// <param name="rows">Rows [M, d].</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="weights">Weights [E, d, h].</param>
        /// <param name="bias">Bias [E, h] or null.</param>
        internal string? WhyPerExpert(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null) =>
            RunnerFor(rows.device) is { } runner
                ? WhyPerExpert(runner, rows, counts, weights, bias)
                : $"no grouped GEMM runner serves {rows.device}.";

        private static string? WhyPerExpert(IGroupedGemmRunner runner, Tensor rows, long[] counts, Tensor weights, Tensor? bias)
        {
            if (SwitchedOff(runner)) return $"{runner.SwitchVariable}=0.";
            if (bias is not null && bias.dtype != rows.dtype) return $"the bias is {bias.dtype} and the rows {rows.dtype}.";
            if (rows.shape[0] > int.MaxValue) return $"{rows.shape[0]} rows exceed the grouped GEMM's 32-bit row counts.";
            return runner.Unavailable(rows, counts, weights);
        }

        private static bool SwitchedOff(IGroupedGemmRunner runner) => Environment.GetEnvironmentVariable(runner.SwitchVariable) == "0";

        /// <summary>
        /// A dtype that a runner says runs best as libtorch's padded batched product (<see cref="IGroupedGemmRunner.PadsGroups"/>)
        /// runs so while the padding adds at most this share of rows (E·C ≤ 2·M), else per expert. Measured in bfloat16
        /// on the CPU (`gemm-half` suite, 2 loaded cores): per-expert products took 1.6–2.5× the CPU time of one bmm on
        /// equal groups at the large projection (eight groups of about 1024 rows) and 4–14× at the fine one (64 groups of
        /// about 512); with 25% padding and its copies the padded bmm took 1.6–2.0× and 2.2–2.4×. In the `dispatch`
        /// suite's fine-shape bfloat16 step the padded buffer, whatever its padding, beat per-expert products (484
        /// against 695 ms CPU). Twice the rows is where the large projection's per-expert products draw level.
        /// </summary>
        internal const double MaxPaddingForBatch = 1.0;

        private GroupedProducts Choose(Tensor rows, long[] counts, Tensor weights, Tensor? bias)
        {
            // Rows on a device no runner serves (CUDA without MoeLayers.Cuda, say) are no library's business: no word.
            if (RunnerFor(rows.device) is not { } runner) return GroupedProducts.PerExpert;
            if (!SwitchedOff(runner) && runner.PadsGroups(rows.dtype)) return PadsGroups(rows.device, rows.dtype, counts) ? GroupedProducts.PaddedBatch : GroupedProducts.PerExpert;
            var why = WhyPerExpert(runner, rows, counts, weights, bias);
            if (why is null) return GroupedProducts.Library(runner, failure => ReportFailure(runner, failure));
            if (FirstReport($"{runner.Name} not taken: {why}")) MoeLayersEventSource.Log.ExpertProductsFallback(runner.Name, why);
            return GroupedProducts.PerExpert;
        }

        /// <summary>Whether groups of <paramref name="counts"/> padded to the largest hold at most <see cref="MaxPaddingForBatch"/> more rows than they have.</summary>
        /// <param name="counts">Rows per expert.</param>
        internal static bool PaddingPays(long[] counts)
        {
            var rows = counts.Sum();
            return rows > 0 && counts.Length * counts.Max() <= (1 + MaxPaddingForBatch) * rows;
        }

        private void ReportFailure(IGroupedGemmRunner runner, Exception failure)
        {
            var type = failure.GetType().FullName ?? failure.GetType().Name;
            if (FirstReport($"{runner.Name} failed: {type}: {failure.Message}"))
                MoeLayersEventSource.Log.LibraryCallFailed(runner.Name, type, failure.Message);
        }

        /// <summary>
        /// Whether <paramref name="cause"/> is to be reported now: a listener is enabled and this instance has not
        /// reported it before (a cause met while nobody listened is reported to the first listener).
        /// </summary>
        private bool FirstReport(string cause) =>
            MoeLayersEventSource.Log.IsEnabled(EventLevel.Warning, EventKeywords.None) && _reported.TryAdd(cause, 0);

        /// <summary>Throws <see cref="ArgumentException"/> unless the operands of a grouped matmul fit together.</summary>
        /// <param name="rows">Rows [M, d].</param>
        /// <param name="counts">E counts summing to M.</param>
        /// <param name="weights">Weights [E, d, h].</param>
        /// <param name="bias">Bias [E, h] or null.</param>
        internal static void CheckShapes(Tensor rows, long[] counts, Tensor weights, Tensor? bias)
        {
            if (weights.dim() != 3 || rows.dim() != 2 || rows.shape[1] != weights.shape[1] || counts.Length != weights.shape[0])
                throw new ArgumentException(
                    $"a grouped matmul takes rows [M, d], {counts.Length} counts and weights [E, d, h]; got rows {Guard.Shape(rows)} and weights {Guard.Shape(weights)}.");
            var total = 0L;
            foreach (var count in counts)
            {
                if (count < 0) throw new ArgumentException($"group counts must not be negative; got {count}.", nameof(counts));
                total += count;
            }
            if (total != rows.shape[0])
                throw new ArgumentException($"the group counts sum to {total} but there are {rows.shape[0]} rows.", nameof(counts));
            if (bias is not null && (bias.dim() != 2 || bias.shape[0] != weights.shape[0] || bias.shape[1] != weights.shape[2]))
                throw new ArgumentException($"the bias must be [E, h] = [{weights.shape[0]}, {weights.shape[2]}]; got {Guard.Shape(bias)}.", nameof(bias));
        }
    }
}
