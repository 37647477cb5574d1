using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>The four row kernels instantiated for one row dtype.</summary>
    internal sealed class RowKernelSet
    {
        private RowKernelSet(ScalarType dtype, KernelDefinition gather, KernelDefinition combine, KernelDefinition scatterScaled, KernelDefinition pairDot)
        {
            DType = dtype;
            Gather = gather;
            Combine = combine;
            ScatterScaled = scatterScaled;
            PairDot = pairDot;
        }

        /// <summary>The row dtype.</summary>
        public ScalarType DType { get; }

        /// <summary><see cref="RowKernels.GatherRows{TElement}"/>.</summary>
        public KernelDefinition Gather { get; }

        /// <summary><see cref="RowKernels.CombineRows{TElement, TCodec}"/>.</summary>
        public KernelDefinition Combine { get; }

        /// <summary><see cref="RowKernels.ScatterScaledRows{TElement, TCodec}"/>.</summary>
        public KernelDefinition ScatterScaled { get; }

        /// <summary><see cref="RowKernels.PairDot{TElement, TCodec}"/>.</summary>
        public KernelDefinition PairDot { get; }

        /// <summary>Instantiates the row kernels for storage type <typeparamref name="TElement"/>.</summary>
        public static RowKernelSet Create<TElement, TCodec>(ScalarType dtype)
            where TElement : unmanaged
            where TCodec : struct, IElementCodec<TElement> =>
            new(dtype,
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.GatherRows), typeof(TElement)),
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.CombineRows), typeof(TElement), typeof(TCodec)),
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.ScatterScaledRows), typeof(TElement), typeof(TCodec)),
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.PairDot), typeof(TElement), typeof(TCodec)));
    }
}
