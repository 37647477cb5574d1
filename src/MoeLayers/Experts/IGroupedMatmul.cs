using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// One projection of every expert at once: rows [M, d] that come in expert-contiguous groups (group e has counts[e]
    /// rows, the counts sum to M) times stacked weights [E, d, h] → [M, h], group e's rows multiplied by weights[e], plus
    /// bias[e] when a bias [E, h] is given. Gradients reach the rows (dX = dY·W[e]ᵀ per group), the weights
    /// (dW[e] = X[e]ᵀ·dY[e]) and the bias (the column sums of dY[e]). The seam between an expert bank and whatever runs its
    /// products: per-expert TorchSharp matmuls (<see cref="PerExpertMatmul"/>), a grouped GEMM library call on CUDA
    /// (MoeLayers.Cuda), or a batched GEMM on the CPU. Implementations are stateless values handed to the bank per call.
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
    }

    /// <summary>
    /// The portable grouped matmul: one TorchSharp product per expert on its block of rows (addmm with a bias), the rows
    /// split and the weights unbound once, so the backward is one cat/stack rather than E full-size gradient writes.
    /// </summary>
    internal sealed class PerExpertMatmul : IGroupedMatmul
    {
        /// <summary>The one instance (stateless).</summary>
        public static readonly PerExpertMatmul Instance = new();

        private PerExpertMatmul()
        {
        }

        /// <inheritdoc />
        public Tensor Multiply(Tensor rows, long[] counts, Tensor weights, Tensor? bias = null)
        {
            CheckShapes(rows, counts, weights, bias);
            var blocks = rows.split(counts);
            var w = weights.unbind(0);
            var b = bias?.unbind(0);
            var outputs = new List<Tensor>(counts.Length);
            for (var e = 0; e < counts.Length; e++)
                outputs.Add(b is null ? blocks[e].matmul(w[e]) : b[e].addmm(blocks[e], w[e]));
            return cat(outputs, 0);
        }

        /// <inheritdoc />
        public GroupedProducts Products(Tensor rows, long[] counts, Tensor weights) => GroupedProducts.PerExpert;

        /// <inheritdoc />
        public bool Batches(Device device, ScalarType dtype, long[] counts) => false;

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
