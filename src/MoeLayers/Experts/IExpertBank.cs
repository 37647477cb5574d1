using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The experts part of an MoE layer as a dispatcher sees it: run each expert on its own contiguous block of rows, all
    /// experts at once on a padded [E, C, d] buffer, or one expert on its rows (the reference loop). Implemented by
    /// <see cref="ExpertBank"/> and, for one forward, by <see cref="LowRankExpertBank.Continuation"/>.
    /// </summary>
    internal interface IExpertBank
    {
        /// <summary>Number of experts E this bank holds (an expert-parallel rank's share).</summary>
        int NumExperts { get; }

        /// <summary>Input width d.</summary>
        int InputDim { get; }

        /// <summary>Output width.</summary>
        int OutputDim { get; }

        /// <summary>Rows sorted by expert [M, d] with per-expert counts → outputs [M, out] in the same order.</summary>
        /// <param name="rows">Gathered rows, expert-contiguous.</param>
        /// <param name="counts">Rows per expert (sums to M).</param>
        /// <param name="assignments">Flat index t·E + e of each row's (token, expert) pair [M]: lets banks with
        /// per-(token, expert) state (AoE) fetch it.</param>
        /// <param name="matmul">Runs the grouped products (a library's grouped GEMM, or per-expert products).</param>
        Tensor ForwardSorted(Tensor rows, long[] counts, Tensor assignments, IGroupedMatmul matmul);

        /// <summary>Padded buffer [E, C, d] → [E, C, out]; padding rows hold an arbitrary real token and their outputs are ignored.</summary>
        /// <param name="padded">The buffer.</param>
        /// <param name="assignments">Flat t·E + e index per buffer row [E·C] (any valid index for padding rows).</param>
        Tensor ForwardPadded(Tensor padded, Tensor assignments);

        /// <summary>Reference path: expert <paramref name="expert"/> on rows [n, d] of tokens <paramref name="tokens"/>.</summary>
        /// <param name="expert">The expert.</param>
        /// <param name="rows">Its rows.</param>
        /// <param name="tokens">The rows' token indices [n].</param>
        Tensor ForwardExpert(int expert, Tensor rows, Tensor tokens);
    }
}
