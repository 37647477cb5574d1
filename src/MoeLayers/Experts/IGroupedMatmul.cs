using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// One projection of every expert at once: rows [M, d] that come in expert-contiguous groups (group e has counts[e]
    /// rows, the counts sum to M) times stacked weights [E, d, h] → [M, h], group e's rows multiplied by weights[e], plus
    /// bias[e] when a bias [E, h] is given. Gradients reach the rows (dX = dY·W[e]ᵀ per group), the weights
    /// (dW[e] = X[e]ᵀ·dY[e]) and the bias (the column sums of dY[e]). The seam between an expert bank and whatever runs its
    /// products: a library's grouped GEMM where one serves the device (<see cref="LibraryGroupedMatmul"/>: MKL's batched GEMM
    /// on the CPU, cuBLAS on CUDA), else per-expert TorchSharp products. Implementations are stateless values handed to the bank per call.
    /// </summary>
    internal interface IGroupedMatmul
    {
        /// <summary>rows [M, d] grouped by <paramref name="counts"/> times <paramref name="weights"/> [E, d, h] → [M, h].</summary>
        /// <param name="rows">Expert-contiguous rows [M, d], in the weights' dtype and on their device.</param>
        /// <param name="counts">Rows of each expert, E values summing to M (zeros allowed).</param>
        /// <param name="weights">Stacked weights [E, d, h].</param>
        /// <param name="bias">Per-expert bias [E, h], or null.</param>
        Tensor Multiply(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null);

        /// <summary>
        /// The products <see cref="Multiply"/> would run for these operands, without autograd, for a custom function that
        /// runs a whole expert MLP (<see cref="ExpertMlpFunction"/>): a library's grouped GEMM, or per-expert products.
        /// </summary>
        /// <param name="rows">Expert-contiguous rows [M, d].</param>
        /// <param name="counts">Rows of each expert.</param>
        /// <param name="weights">Stacked weights [E, d, h] of the first projection (the others share its device and dtype).</param>
        GroupedProducts Products(Tensor rows, long[] counts, Tensor weights);

        /// <summary>
        /// Whether rows of this device and dtype in groups of <paramref name="counts"/> run as one library call per
        /// projection, which Auto dispatch then prefers to the padded buffer (measured on the CPU).
        /// </summary>
        /// <param name="device">The rows' device.</param>
        /// <param name="dtype">The rows' dtype.</param>
        /// <param name="counts">Rows of each expert.</param>
        bool Batches(Device device, ScalarType dtype, long[] counts);

        /// <summary>
        /// Whether rows of this device and dtype in groups of <paramref name="counts"/> would run as one batched product
        /// over groups padded to the largest (<see cref="GroupedProducts.PaddedBatch"/>), which Auto dispatch then gets
        /// directly by gathering into its padded buffer, sparing the copies into and out of the padded layout.
        /// </summary>
        /// <param name="device">The rows' device.</param>
        /// <param name="dtype">The rows' dtype.</param>
        /// <param name="counts">Rows of each expert.</param>
        bool PadsGroups(Device device, ScalarType dtype, long[] counts);
    }
}
