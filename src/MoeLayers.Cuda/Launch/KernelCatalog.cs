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

        /// <summary>Scan of the block counts into offsets, with capacity.</summary>
        public static readonly KernelDefinition ScanOffsets = Of(typeof(PermutationKernels), nameof(PermutationKernels.ScanOffsets));

        /// <summary>Stable ranks and the scatter into expert-contiguous order.</summary>
        public static readonly KernelDefinition RankAndScatter = Of(typeof(PermutationKernels), nameof(PermutationKernels.RankAndScatter));

        /// <summary>Compact to padded row layout.</summary>
        public static readonly KernelDefinition PadLayout = Of(typeof(PermutationKernels), nameof(PermutationKernels.PadLayout));

        /// <summary>Row kernels for float32 rows.</summary>
        public static readonly RowKernelSet Float32Rows = RowKernelSet.Create<float, Float32Codec>(ScalarType.Float32);

        /// <summary>Row kernels for bfloat16 rows.</summary>
        public static readonly RowKernelSet BFloat16Rows = RowKernelSet.Create<ushort, BFloat16Codec>(ScalarType.BFloat16);

        /// <summary>Row kernels for float16 rows.</summary>
        public static readonly RowKernelSet Float16Rows = RowKernelSet.Create<ushort, Float16Codec>(ScalarType.Float16);

        /// <summary>All kernels, for ahead-of-time compilation and the signature checks.</summary>
        public static IReadOnlyList<KernelDefinition> All { get; } = BuildAll();

        /// <summary>The row kernels for <paramref name="dtype"/>, or null when the fused path does not support it.</summary>
        /// <param name="dtype">Row dtype.</param>
        public static RowKernelSet? Rows(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => Float32Rows,
            ScalarType.BFloat16 => BFloat16Rows,
            ScalarType.Float16 => Float16Rows,
            _ => null,
        };

        internal static KernelDefinition Of(Type type, string name, params Type[] genericArguments)
        {
            var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
                         ?? throw new MissingMethodException(type.FullName, name);
            if (genericArguments.Length > 0) method = method.MakeGenericMethod(genericArguments);
            // One definition per method: bfloat16 and float16 share the gather (a 16-bit copy), and so its compiled code.
            lock (Definitions) return Definitions.TryGetValue(method, out var known) ? known : Definitions[method] = new KernelDefinition(method);
        }

        private static IReadOnlyList<KernelDefinition> BuildAll()
        {
            var all = new List<KernelDefinition> { SoftmaxTopK, CountExperts, ScanOffsets, RankAndScatter, PadLayout };
            foreach (var rows in new[] { Float32Rows, BFloat16Rows, Float16Rows })
                all.AddRange(new[] { rows.Gather, rows.Combine, rows.ScatterScaled, rows.PairDot });
            return all.Distinct().ToArray();
        }
    }
}
