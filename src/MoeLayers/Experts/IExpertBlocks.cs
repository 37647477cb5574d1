using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// What a dispatcher needs from a set of experts: run each expert on its own contiguous block of rows, or all
    /// experts at once on a padded [E, C, d] buffer. Implemented by <see cref="ExpertBank"/> and, per forward, by <see cref="LowRankExpertBank"/>.
    /// </summary>
    internal interface IExpertBlocks
    {
        /// <summary>Number of experts E.</summary>
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
        Tensor ForwardSorted(Tensor rows, long[] counts, Tensor assignments);

        /// <summary>Padded buffer [E, C, d] → [E, C, out]; padding rows are zeros and their outputs are ignored.</summary>
        /// <param name="padded">The buffer.</param>
        /// <param name="assignments">Flat t·E + e index per buffer row [E·C] (any valid index for padding rows).</param>
        Tensor ForwardPadded(Tensor padded, Tensor assignments);

        /// <summary>Reference path: expert <paramref name="expert"/> on rows [n, d] of tokens <paramref name="tokens"/>.</summary>
        Tensor ForwardExpert(int expert, Tensor rows, Tensor tokens);
    }
}
