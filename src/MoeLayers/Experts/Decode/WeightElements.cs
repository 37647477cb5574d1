using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MoeLayers
{
    /// <summary>
    /// How a decode kernel reads one stored weight element as float32, at each vector width: float32 as is, bfloat16
    /// widened by shifting its 16 bits into the high half of a float32 (exact), int8 converted to float32 (exact; the
    /// per-output-channel scale is applied after the sum). Implemented by structs so the JIT specializes the kernel per
    /// element type.
    /// </summary>
    internal unsafe interface IWeightElement
    {
        /// <summary>Bytes per stored element.</summary>
        static abstract int Size { get; }

        /// <summary>Sixteen consecutive elements at <paramref name="at"/> as float32 (requires Avx512F).</summary>
        static abstract Vector512<float> Load16(byte* at);

        /// <summary>Eight consecutive elements at <paramref name="at"/> as float32 (requires Avx2).</summary>
        static abstract Vector256<float> Load8(byte* at);

        /// <summary>The element at <paramref name="at"/> as float32.</summary>
        static abstract float Load1(byte* at);
    }

    /// <summary>float32 weights.</summary>
    internal unsafe struct Float32Element : IWeightElement
    {
        public static int Size => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* at) => Avx512F.LoadVector512((float*)at);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* at) => Avx.LoadVector256((float*)at);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* at) => *(float*)at;
    }

    /// <summary>bfloat16 weights: the 16 stored bits are the high half of the float32 they stand for.</summary>
    internal unsafe struct BFloat16Element : IWeightElement
    {
        public static int Size => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* at) =>
            Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Avx.LoadVector256((ushort*)at)), 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* at) =>
            Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)at), 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* at) => BitConverter.Int32BitsToSingle(*(ushort*)at << 16);
    }

    /// <summary>int8 weights (weight-only quantized; the kernel multiplies the sum by the output channel's scale).</summary>
    internal unsafe struct Int8Element : IWeightElement
    {
        public static int Size => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* at) =>
            Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128((sbyte*)at)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* at) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)at));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* at) => *(sbyte*)at;
    }
}
