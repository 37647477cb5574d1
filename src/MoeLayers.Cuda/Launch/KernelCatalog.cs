using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>Every kernel the fused dispatch launches, with the row kernels instantiated per supported dtype.</summary>
    internal static class KernelCatalog
    {
        private static readonly Dictionary<MethodInfo, KernelDefinition> Definitions = new();

        /// <summary>Routing: softmax, top-k and per-block counts.</summary>
        public static readonly KernelDefinition SoftmaxTopK = Of(typeof(RoutingKernels), nameof(RoutingKernels.SoftmaxTopK));

        /// <summary>Per-block expert counts of given routing indices.</summary>
        public static readonly KernelDefinition CountExperts = Of(typeof(PermutationKernels), nameof(PermutationKernels.CountExperts));

        /// <summary>Per-expert scan of the block counts, with capacity.</summary>
        public static readonly KernelDefinition ScanExpertBlocks = Of(typeof(PermutationKernels), nameof(PermutationKernels.ScanExpertBlocks));

        /// <summary>Scan of the kept counts into expert offsets.</summary>
        public static readonly KernelDefinition ScanExpertOffsets = Of(typeof(PermutationKernels), nameof(PermutationKernels.ScanExpertOffsets));

        /// <summary>Stable ranks and the scatter into expert-contiguous order.</summary>
        public static readonly KernelDefinition RankAndScatter = Of(typeof(PermutationKernels), nameof(PermutationKernels.RankAndScatter));

        /// <summary>Compact to padded row layout.</summary>
        public static readonly KernelDefinition PadLayout = Of(typeof(PermutationKernels), nameof(PermutationKernels.PadLayout));

        /// <summary>Row kernels for float32 rows, one element per access.</summary>
        public static readonly RowKernelSet Float32Rows = RowKernelSet.Create<float, float, ScalarRowCodec<float, Float32Codec>>(ScalarType.Float32, 1);

        /// <summary>Row kernels for float32 rows, 4 elements per 16-byte access.</summary>
        public static readonly RowKernelSet Float32Packed = RowKernelSet.Create<Float4, Float4, Float4RowCodec>(ScalarType.Float32, 4);

        /// <summary>Row kernels for bfloat16 rows, one element per access.</summary>
        public static readonly RowKernelSet BFloat16Rows = RowKernelSet.Create<ushort, float, ScalarRowCodec<ushort, BFloat16Codec>>(ScalarType.BFloat16, 1);

        /// <summary>Row kernels for bfloat16 rows, 8 elements per 16-byte access.</summary>
        public static readonly RowKernelSet BFloat16Packed = RowKernelSet.Create<Half8, Float8, Half8RowCodec<BFloat16Codec>>(ScalarType.BFloat16, 8);

        /// <summary>Row kernels for float16 rows, one element per access.</summary>
        public static readonly RowKernelSet Float16Rows = RowKernelSet.Create<ushort, float, ScalarRowCodec<ushort, Float16Codec>>(ScalarType.Float16, 1);

        /// <summary>Row kernels for float16 rows, 8 elements per 16-byte access.</summary>
        public static readonly RowKernelSet Float16Packed = RowKernelSet.Create<Half8, Float8, Half8RowCodec<Float16Codec>>(ScalarType.Float16, 8);

        /// <summary>All kernels, for ahead-of-time compilation and the signature checks.</summary>
        public static IReadOnlyList<KernelDefinition> All { get; } = BuildAll();

        /// <summary>The one-element row kernels for <paramref name="dtype"/>, or null when the fused path does not support it.</summary>
        /// <param name="dtype">Row dtype.</param>
        public static RowKernelSet? Rows(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => Float32Rows,
            ScalarType.BFloat16 => BFloat16Rows,
            ScalarType.Float16 => Float16Rows,
            _ => null,
        };

        /// <summary>The 16-byte-packet row kernels for <paramref name="dtype"/>, or null when the fused path does not support it.</summary>
        /// <param name="dtype">Row dtype.</param>
        public static RowKernelSet? Packed(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => Float32Packed,
            ScalarType.BFloat16 => BFloat16Packed,
            ScalarType.Float16 => Float16Packed,
            _ => null,
        };

        internal static KernelDefinition Of(Type type, string name, params Type[] genericArguments)
        {
            var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
                         ?? throw new MissingMethodException(type.FullName, name);
            if (genericArguments.Length > 0) method = method.MakeGenericMethod(genericArguments);
            // One definition per method: bfloat16 and float16 share the gathers (16-bit and 16-byte copies), and so their compiled code.
            lock (Definitions) return Definitions.TryGetValue(method, out var known) ? known : Definitions[method] = new KernelDefinition(method);
        }

        private static IReadOnlyList<KernelDefinition> BuildAll()
        {
            var all = new List<KernelDefinition> { SoftmaxTopK, CountExperts, ScanExpertBlocks, ScanExpertOffsets, RankAndScatter, PadLayout };
            foreach (var rows in new[] { Float32Rows, Float32Packed, BFloat16Rows, BFloat16Packed, Float16Rows, Float16Packed })
                all.AddRange(new[] { rows.Gather, rows.Combine, rows.ScatterScaled, rows.PairDot });
            return all.Distinct().ToArray();
        }
    }
}
