using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The grouped GEMM as one MKL cblas_sgemm_batch / cblas_dgemm_batch call on contiguous CPU float32 / float64 tensors,
    /// column-major problems from <see cref="GroupedGemmPlan"/> (the same plans cuBLAS runs on CUDA), one group per
    /// problem. MKL threads the batch itself (its thread count is libtorch's, torch.set_num_threads).
    /// </summary>
    internal sealed class MklGroupedGemm : IGroupedGemmRunner
    {
        /// <summary>The process-wide runner.</summary>
        public static readonly MklGroupedGemm Instance = new();

        private static readonly Lazy<(MklApi? Api, string? Failure)> Library = new(() =>
        {
            var failure = MklApi.TryLoad(out var api);
            return (api, failure);
        });

        private MklGroupedGemm()
        {
        }

        /// <summary>Whether MKL's batched GEMM entry points were found.</summary>
        public static bool Available => Library.Value.Api is not null;

        /// <summary>The bound library, or why there is none (for benchmark reports).</summary>
        public static string Describe()
        {
            var (api, failure) = Library.Value;
            return api is null ? "unavailable: " + failure : api.Path;
        }

        /// <summary>
        /// Groups of at most this many rows take per-expert products: measured with the `gemm` quick suite, for one or two
        /// rows per expert the batched call took 1.8–2.5× as long on one loaded thread and was within 20% either way on two
        /// idle ones, while from four rows up it is clearly faster. Decode-sized batches (each token's k experts, one row
        /// each) are such groups.
        /// </summary>
        internal const long MaxRowsForPerExpert = 2;

        /// <inheritdoc />
        public string Name => "MKL batched GEMM";

        /// <inheritdoc />
        /// <remarks>MOELAYERS_CPU_GROUPED_GEMM.</remarks>
        public string SwitchVariable => "MOELAYERS_CPU_GROUPED_GEMM";

        /// <inheritdoc />
        public bool Serves(Device device) => device.type == DeviceType.CPU;

        /// <inheritdoc />
        public bool PaysFor(long[] counts) => counts.Length > 0 && counts.Max() > MaxRowsForPerExpert;

        /// <inheritdoc />
        /// <remarks>True for float32 and float64 where MKL's entry points were found (measured on the CPU).</remarks>
        public bool BeatsPaddedBuffer(ScalarType dtype) => (dtype == ScalarType.Float32 || dtype == ScalarType.Float64) && Available;

        /// <inheritdoc />
        /// <remarks>
        /// True for bfloat16 and float16. Measured with the `gemm-half` suite (2 cores of an AMD EPYC with AVX-512 BF16,
        /// TorchSharp 0.107): MKL's cblas_gemm_bf16bf16f32, called per group, took 5× the CPU time of one libtorch bmm over
        /// the same groups at the large and fine projections, and libtorch's per-expert products 1.7–2.1× (large) and
        /// 4.2–6.2× (fine) the bmm's; libtorch's bmm ran at the single dense product's speed. Without AVX-512 FP16 the
        /// float16 products of every kind run at a few GFLOP/s; the bmm was still the fastest of them.
        /// </remarks>
        public bool PadsGroups(ScalarType dtype) => dtype is ScalarType.BFloat16 or ScalarType.Float16;

        /// <inheritdoc />
        public string? Unavailable(Tensor rows, long[] counts, Tensor weights)
        {
            if (rows.device_type != DeviceType.CPU || weights.device_type != DeviceType.CPU)
                return $"the rows are on {rows.device} and the weights on {weights.device}, not both on the CPU.";
            if ((rows.dtype != ScalarType.Float32 && rows.dtype != ScalarType.Float64) || rows.dtype != weights.dtype)
                return $"MKL's batched GEMM here takes float32 or float64 rows and weights of one dtype; got {rows.dtype} and {weights.dtype}.";
            if (!rows.is_contiguous() || !weights.is_contiguous())
                return "the rows or weights are not contiguous.";
            var (d, h) = (weights.shape[1], weights.shape[2]);
            if (d > int.MaxValue || h > int.MaxValue || rows.shape[0] > int.MaxValue)
                return $"M = {rows.shape[0]}, d = {d} or h = {h} exceeds MKL's 32-bit (LP64) dimensions.";
            var (api, failure) = Library.Value;
            return api is null ? failure : null;
        }

        /// <inheritdoc />
        public void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c)
        {
            if (problems.Count == 0) return;
            var (api, failure) = Library.Value;
            if (api is null) throw new InvalidOperationException("MKL: " + failure);
            var size = (int)c.element_size();
            var pointers = GroupedGemmPlan.Pointers(problems, TensorMemory.Address(a), TensorMemory.Address(b), TensorMemory.Address(c), size);
            var count = problems.Count;
            var (pa, pb, pc) = (Slice(pointers, 0, count), Slice(pointers, count, count), Slice(pointers, 2 * count, count));
            var (transA, transB, m, n, k, lda, ldb, ldc, groupSize) = MklApi.Arguments(problems);
            switch (c.dtype)
            {
                case ScalarType.Float32:
                    api.Sgemm(MklApi.ColMajor, transA, transB, m, n, k, Enumerable.Repeat(1f, count).ToArray(), pa, lda, pb, ldb,
                        new float[count], pc, ldc, count, groupSize);
                    break;
                case ScalarType.Float64:
                    api.Dgemm(MklApi.ColMajor, transA, transB, m, n, k, Enumerable.Repeat(1d, count).ToArray(), pa, lda, pb, ldb,
                        new double[count], pc, ldc, count, groupSize);
                    break;
                default:
                    throw new NotSupportedException($"MKL's batched GEMM here does not take {c.dtype}.");
            }
            // The operands must outlive the call; the addresses alone do not keep them alive.
            GC.KeepAlive(a);
            GC.KeepAlive(b);
            GC.KeepAlive(c);
        }

        private static IntPtr[] Slice(long[] pointers, int start, int count)
        {
            var slice = new IntPtr[count];
            for (var i = 0; i < count; i++) slice[i] = (IntPtr)pointers[start + i];
            return slice;
        }
    }
}
