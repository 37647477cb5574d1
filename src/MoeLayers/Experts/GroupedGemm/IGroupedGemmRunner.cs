using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Runs the problems of a <see cref="GroupedGemmPlan"/> in one library call: cuBLAS's grouped GEMM on CUDA tensors
    /// (MoeLayers.Cuda), MKL's cblas_?gemm_batch on CPU tensors (MklGroupedGemm); tests substitute an
    /// emulation of the same column-major semantics. The one grouped-GEMM seam of both devices; the grouped matmul that
    /// chooses between a runner and per-expert products is <see cref="LibraryGroupedMatmul"/>.
    /// </summary>
    internal interface IGroupedGemmRunner
    {
        /// <summary>The library call in words, for reports: "MKL batched GEMM", "cuBLAS grouped GEMM".</summary>
        string Name { get; }

        /// <summary>
        /// The environment variable that turns this runner off when set to 0 (documented per package; read on every call).
        /// </summary>
        string SwitchVariable { get; }

        /// <summary>Whether this runner is meant for rows on <paramref name="device"/> at all (a fallback elsewhere is no news).</summary>
        bool Serves(Device device);

        /// <summary>
        /// Null when this runner can take a grouped projection of <paramref name="rows"/> [M, d] by
        /// <paramref name="weights"/> [E, d, h] with these group counts (device, dtype, library, alignment, sizes);
        /// otherwise why not, in words.
        /// </summary>
        string? Unavailable(Tensor rows, long[] counts, Tensor weights);

        /// <summary>
        /// Whether one library call is worth it for groups of these sizes; where it is not, per-expert products are faster
        /// and are run instead. By default always.
        /// </summary>
        bool PaysFor(long[] counts) => true;

        /// <summary>
        /// Whether one call per projection on rows of <paramref name="dtype"/> was measured to beat one batched product on
        /// the zero-padded buffer of evenly loaded experts, so that Auto dispatch prefers the grouped rows
        /// (<see cref="IGroupedMatmul.Batches"/>); asked only for a device this runner serves.
        /// </summary>
        bool BeatsPaddedBuffer(ScalarType dtype);

        /// <summary>
        /// Whether rows of <paramref name="dtype"/> on this runner's device run best as libtorch's own batched product over
        /// groups padded to the largest (<see cref="GroupedProducts.PaddedBatch"/>), measured against this runner's library
        /// and per-expert products; where true, <see cref="LibraryGroupedMatmul"/> runs them so (or per expert when the
        /// padding would cost more) without a word, since that is a measured choice, not a fallback. By default never.
        /// </summary>
        bool PadsGroups(ScalarType dtype) => false;

        /// <summary>Computes every problem (possibly none) of operands A and B into C; all three contiguous, of one dtype and device.</summary>
        void Run(IReadOnlyList<GemmProblem> problems, Tensor a, Tensor b, Tensor c);
    }
}
