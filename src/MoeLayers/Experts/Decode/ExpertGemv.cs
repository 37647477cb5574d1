using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MoeLayers
{
    /// <summary>The instruction set a decode kernel runs with.</summary>
    internal enum GemvWidth
    {
        /// <summary>One float at a time (MathF.FusedMultiplyAdd): any CPU.</summary>
        Scalar,

        /// <summary>Eight floats per instruction (Avx2 + Fma).</summary>
        Avx2,

        /// <summary>Sixteen floats per instruction (Avx512F).</summary>
        Avx512,
    }

    /// <summary>
    /// The decode path's matrix-vector kernel: for a few rows x [n, in] (float32) and one expert's weights W [in, out]
    /// stored row-major ([in, out], as the bank keeps them) in float32, bfloat16 or int8, the columns [c0, c1) of
    /// y = x·W, then y = y·scale (int8: per output column) and y = y + bias. Each weight element is read once per call,
    /// whatever n is: for each input index i the kernel loads the weight row's slab W[i, c0..c1) (contiguous, so an
    /// expert's weights stream in address order when the slab is the whole row) and adds x[r, i]·W[i, c] into the n
    /// output rows, which stay in L1 (the caller keeps n·(c1 − c0) floats small). No transposed copy is needed.
    /// </summary>
    /// <remarks>
    /// Arithmetic, the same at every width (the vector lanes are independent output columns): for each output (r, c),
    /// acc = 0; acc = fma(x[r, i], w[i, c], acc) for i = 0, 1, …, in − 1 in that order; then acc·scale[c] (int8 only, one
    /// rounding), then acc + bias[c] (one rounding). The scalar width uses MathF.FusedMultiplyAdd, so all widths give
    /// the same bits, and a test can state the result exactly.
    /// </remarks>
    internal static unsafe class ExpertGemv
    {
        /// <summary>The widest width this CPU runs.</summary>
        public static GemvWidth Widest { get; } =
            Avx512F.IsSupported ? GemvWidth.Avx512 : Avx2.IsSupported && Fma.IsSupported ? GemvWidth.Avx2 : GemvWidth.Scalar;

        /// <summary>Whether this CPU runs <paramref name="width"/>.</summary>
        public static bool Supports(GemvWidth width) => width <= Widest;

        /// <summary>
        /// y[r, c] for r &lt; <paramref name="rows"/>, c in [<paramref name="c0"/>, <paramref name="c1"/>), overwriting
        /// those elements of y.
        /// </summary>
        /// <param name="width">Instruction set (at most <see cref="Widest"/>).</param>
        /// <param name="x">Rows, float32, row r at x + r·<paramref name="inDim"/>.</param>
        /// <param name="rows">Number of rows n.</param>
        /// <param name="inDim">Input width (rows of W).</param>
        /// <param name="weights">W [inDim, outDim] row-major, elements of <typeparamref name="TElement"/>.</param>
        /// <param name="outDim">Output width (columns of W, and the row stride of y).</param>
        /// <param name="c0">First column.</param>
        /// <param name="c1">One past the last column.</param>
        /// <param name="scale">Per-column scale [outDim], or null.</param>
        /// <param name="bias">Per-column bias [outDim], or null.</param>
        /// <param name="y">Output [rows, outDim] float32.</param>
        public static void Multiply<TElement>(GemvWidth width, float* x, int rows, int inDim, byte* weights, int outDim,
            int c0, int c1, float* scale, float* bias, float* y)
            where TElement : unmanaged, IWeightElement
        {
            if (!Supports(width)) throw new PlatformNotSupportedException($"This CPU does not run the {width} decode kernel.");
            for (var r = 0; r < rows; r++) new Span<float>(y + (long)r * outDim + c0, c1 - c0).Clear();
            var vectorEnd = width switch
            {
                GemvWidth.Avx512 => c0 + (c1 - c0) / 16 * 16,
                GemvWidth.Avx2 => c0 + (c1 - c0) / 8 * 8,
                _ => c0,
            };
            var rowBytes = (long)outDim * TElement.Size;
            for (var i = 0; i < inDim; i++)
            {
                var weightRow = weights + i * rowBytes;
                if (width == GemvWidth.Avx512) Accumulate16<TElement>(x + i, rows, inDim, weightRow, outDim, c0, vectorEnd, y);
                else if (width == GemvWidth.Avx2) Accumulate8<TElement>(x + i, rows, inDim, weightRow, outDim, c0, vectorEnd, y);
                for (var c = vectorEnd; c < c1; c++)
                {
                    var w = TElement.Load1(weightRow + (long)c * TElement.Size);
                    for (var r = 0; r < rows; r++)
                    {
                        ref var acc = ref y[(long)r * outDim + c];
                        acc = MathF.FusedMultiplyAdd(x[(long)r * inDim + i], w, acc);
                    }
                }
            }
            if (scale is null && bias is null) return;
            for (var r = 0; r < rows; r++)
            {
                var row = y + (long)r * outDim;
                for (var c = c0; c < c1; c++)
                {
                    var value = row[c];
                    if (scale is not null) value *= scale[c];
                    if (bias is not null) value += bias[c];
                    row[c] = value;
                }
            }
        }

        /// <summary>y[r, c0..end) += x[r, i]·W[i, c0..end) for every row r, sixteen columns at a time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Accumulate16<TElement>(float* xi, int rows, int inDim, byte* weightRow, int outDim, int c0, int end, float* y)
            where TElement : unmanaged, IWeightElement
        {
            if (rows == 1)
            {
                var x0 = Vector512.Create(*xi);
                for (var c = c0; c < end; c += 16)
                {
                    var w = TElement.Load16(weightRow + (long)c * TElement.Size);
                    Avx512F.Store(y + c, Avx512F.FusedMultiplyAdd(x0, w, Avx512F.LoadVector512(y + c)));
                }
                return;
            }
            for (var c = c0; c < end; c += 16)
            {
                var w = TElement.Load16(weightRow + (long)c * TElement.Size);
                for (var r = 0; r < rows; r++)
                {
                    var at = y + (long)r * outDim + c;
                    Avx512F.Store(at, Avx512F.FusedMultiplyAdd(Vector512.Create(xi[(long)r * inDim]), w, Avx512F.LoadVector512(at)));
                }
            }
        }

        /// <summary>y[r, c0..end) += x[r, i]·W[i, c0..end) for every row r, eight columns at a time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Accumulate8<TElement>(float* xi, int rows, int inDim, byte* weightRow, int outDim, int c0, int end, float* y)
            where TElement : unmanaged, IWeightElement
        {
            for (var c = c0; c < end; c += 8)
            {
                var w = TElement.Load8(weightRow + (long)c * TElement.Size);
                for (var r = 0; r < rows; r++)
                {
                    var at = y + (long)r * outDim + c;
                    Avx.Store(at, Fma.MultiplyAdd(Vector256.Create(xi[(long)r * inDim]), w, Avx.LoadVector256(at)));
                }
            }
        }
    }
}
