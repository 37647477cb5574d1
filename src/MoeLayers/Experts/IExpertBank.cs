using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The experts part of an MoE layer as a dispatcher sees it: each expert on its own contiguous block of rows, all
    /// experts on a padded [E, C, d] buffer, or one expert on its rows (the reference loop). Implemented by
    /// <see cref="ExpertBank"/> and, for one forward, by <see cref="LowRankExpertBank.Continuation"/>. Assignments are the
    /// flat (token, expert) indices t·E + e of the rows, for banks with per-(token, expert) state (AoE's cached activations).
    /// </summary>
    internal interface IExpertBank
    {
        /// <summary>Number of experts E this bank holds (an expert-parallel rank's share).</summary>
        int NumExperts { get; }

        /// <summary>Input width d.</summary>
        int InputDim { get; }

        /// <summary>Output width.</summary>
        int OutputDim { get; }

        /// <summary>Rows sorted by expert [M, d], counts[e] rows each → outputs [M, out] in the same order, products by <paramref name="matmul"/>.</summary>
        Tensor ForwardSorted(Tensor rows, long[] counts, Tensor assignments, IGroupedMatmul matmul);

        /// <summary>Padded buffer [E, C, d] → [E, C, out]; padding rows hold an arbitrary real token and their outputs are ignored.</summary>
        Tensor ForwardPadded(Tensor padded, Tensor assignments);

        /// <summary>Reference path: expert <paramref name="expert"/> on rows [n, d] of tokens <paramref name="tokens"/> [n].</summary>
        Tensor ForwardExpert(int expert, Tensor rows, Tensor tokens);
    }
}
