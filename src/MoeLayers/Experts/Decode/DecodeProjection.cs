using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// One projection of every expert as the decode kernels read it: stacked weights [E, in, out] stored [in, out]
    /// row-major (float32, bfloat16 or int8), the per-output-channel scales [E, out] of int8 weights (else null) and the
    /// bias [E, out] (else null). A value over the bank's tensors, built per call.
    /// </summary>
    /// <param name="Weight">Stacked weights [E, in, out].</param>
    /// <param name="Scale">Per-output-channel scales [E, out] (int8 weights only), or null.</param>
    /// <param name="Bias">Bias [E, out], or null.</param>
    internal readonly record struct DecodeProjection(Tensor Weight, Tensor? Scale, Tensor? Bias)
    {
        /// <summary>Input width (rows of each expert's matrix).</summary>
        public int InDim => (int)Weight.shape[1];

        /// <summary>Output width (columns of each expert's matrix).</summary>
        public int OutDim => (int)Weight.shape[2];

        /// <summary>Bytes of one expert's matrix.</summary>
        public long ExpertBytes => Weight.shape[1] * Weight.shape[2] * Weight.element_size();
    }
}
