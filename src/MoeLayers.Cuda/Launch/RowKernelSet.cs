using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>The four row kernels instantiated for one row dtype and one packet size.</summary>
    internal sealed class RowKernelSet
    {
        private RowKernelSet(ScalarType dtype, int packetElements, KernelDefinition gather, KernelDefinition combine,
            KernelDefinition scatterScaled, KernelDefinition pairDot)
        {
            DType = dtype;
            PacketElements = packetElements;
            Gather = gather;
            Combine = combine;
            ScatterScaled = scatterScaled;
            PairDot = pairDot;
        }

        /// <summary>The row dtype.</summary>
        public ScalarType DType { get; }

        /// <summary>Elements per packet: 1, or 16 bytes' worth (4 float32, 8 bfloat16/float16).</summary>
        public int PacketElements { get; }

        /// <summary>Whether these kernels read 16-byte packets (rows and addresses must then be multiples of 16 bytes).</summary>
        public bool IsPacked => PacketElements > 1;

        /// <summary><see cref="RowKernels.GatherRows{TPacket}"/>.</summary>
        public KernelDefinition Gather { get; }

        /// <summary><see cref="RowKernels.CombineRows{TPacket, TSum, TCodec}"/>.</summary>
        public KernelDefinition Combine { get; }

        /// <summary><see cref="RowKernels.ScatterScaledRows{TPacket, TSum, TCodec}"/>.</summary>
        public KernelDefinition ScatterScaled { get; }

        /// <summary><see cref="RowKernels.PairDot{TPacket, TSum, TCodec}"/>.</summary>
        public KernelDefinition PairDot { get; }

        /// <summary>Instantiates the row kernels for packets <typeparamref name="TPacket"/> of <paramref name="packetElements"/> elements.</summary>
        public static RowKernelSet Create<TPacket, TSum, TCodec>(ScalarType dtype, int packetElements)
            where TPacket : unmanaged
            where TSum : unmanaged
            where TCodec : struct, IRowCodec<TPacket, TSum> =>
            new(dtype, packetElements,
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.GatherRows), typeof(TPacket)),
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.CombineRows), typeof(TPacket), typeof(TSum), typeof(TCodec)),
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.ScatterScaledRows), typeof(TPacket), typeof(TSum), typeof(TCodec)),
                KernelCatalog.Of(typeof(RowKernels), nameof(RowKernels.PairDot), typeof(TPacket), typeof(TSum), typeof(TCodec)));
    }
}
