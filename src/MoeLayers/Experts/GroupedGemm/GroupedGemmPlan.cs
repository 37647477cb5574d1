using System;
using System.Collections.Generic;

namespace MoeLayers
{
    /// <summary>
    /// One column-major GEMM C = op(A) · op(B) of a grouped call, as cuBLAS and column-major CBLAS take it: op(A) is M × K, op(B) is K × N, C is
    /// M × N, each operand a column-major matrix with a leading dimension, found at an element offset into its tensor.
    /// </summary>
    /// <param name="TransA">op(A) = Aᵀ.</param>
    /// <param name="TransB">op(B) = Bᵀ.</param>
    /// <param name="M">Rows of C.</param>
    /// <param name="N">Columns of C.</param>
    /// <param name="K">The inner dimension.</param>
    /// <param name="Lda">Leading dimension of A.</param>
    /// <param name="Ldb">Leading dimension of B.</param>
    /// <param name="Ldc">Leading dimension of C.</param>
    /// <param name="OffsetA">First element of A in the A tensor.</param>
    /// <param name="OffsetB">First element of B in the B tensor.</param>
    /// <param name="OffsetC">First element of C in the C tensor.</param>
    internal readonly record struct GemmProblem(bool TransA, bool TransB, int M, int N, int K, int Lda, int Ldb, int Ldc,
        long OffsetA, long OffsetB, long OffsetC);

    /// <summary>Which product of a grouped projection a plan computes.</summary>
    internal enum GroupedGemmPass
    {
        /// <summary>Y[g] = X[g] · W[g]: A = W, B = X, C = Y.</summary>
        Forward,

        /// <summary>dX[g] = dY[g] · W[g]ᵀ: A = W, B = dY, C = dX.</summary>
        GradInput,

        /// <summary>dW[g] = X[g]ᵀ · dY[g]: A = dY, B = X, C = dW.</summary>
        GradWeight,
    }

    /// <summary>
    /// The column-major problems (cuBLAS's, and CBLAS's in its column-major layout) of one pass of a grouped projection: rows X [M, d] in expert-contiguous groups of counts[e]
    /// rows, weights W [E, d, h], all row-major. Both libraries are given column-major problems, so a row-major [r, c] matrix is read as its
    /// transpose, a column-major c × r matrix with leading dimension c, and each row-major product is computed as its
    /// transpose (Yᵀ = Wᵀ·Xᵀ and so on), with no copies. Experts with no rows get no problem: their rows are absent, and the
    /// caller zero-fills their dW. Pure arithmetic on the group layout, tested on any machine.
    /// </summary>
    internal static class GroupedGemmPlan
    {
        /// <summary>The problems of <paramref name="pass"/>, one per expert with rows, in expert order.</summary>
        /// <param name="pass">Which product.</param>
        /// <param name="counts">Rows of each expert.</param>
        /// <param name="inputDim">d.</param>
        /// <param name="outputDim">h.</param>
        public static IReadOnlyList<GemmProblem> Build(GroupedGemmPass pass, long[] counts, int inputDim, int outputDim)
        {
            if (inputDim < 1 || outputDim < 1)
                throw new ArgumentOutOfRangeException(nameof(inputDim), $"d and h must be positive; got d = {inputDim}, h = {outputDim}.");
            var (d, h) = (inputDim, outputDim);
            var problems = new List<GemmProblem>(counts.Length);
            long firstRow = 0;
            for (var e = 0; e < counts.Length; e++)
            {
                var rows = counts[e];
                if (rows < 0 || rows > int.MaxValue)
                    throw new ArgumentOutOfRangeException(nameof(counts), rows, $"group {e} has {rows} rows; a grouped GEMM takes 0 to {int.MaxValue}.");
                if (rows > 0)
                {
                    var m = (int)rows;
                    var weight = (long)e * d * h;
                    problems.Add(pass switch
                    {
                        // Yᵀ (h × m, ld h) = Wᵀ (h × d: W row-major read as column-major, ld h) · Xᵀ (d × m, ld d).
                        GroupedGemmPass.Forward => new GemmProblem(false, false, h, m, d, h, d, h, weight, firstRow * d, firstRow * h),
                        // dXᵀ (d × m, ld d) = W (the ld-h matrix transposed) · dYᵀ (h × m, ld h).
                        GroupedGemmPass.GradInput => new GemmProblem(true, false, d, m, h, h, h, d, weight, firstRow * h, firstRow * d),
                        // dWᵀ (h × d, ld h) = dYᵀ (h × m, ld h) · X (the ld-d matrix Xᵀ transposed, m × d).
                        GroupedGemmPass.GradWeight => new GemmProblem(false, true, h, d, m, h, d, h, firstRow * h, firstRow * d, weight),
                        _ => throw new ArgumentOutOfRangeException(nameof(pass), pass, null),
                    });
                }
                firstRow += rows;
            }
            return problems;
        }

        /// <summary>
        /// The 3·P device pointers cuBLAS reads (every A, then every B, then every C) from the operands' base addresses
        /// and the problems' element offsets.
        /// </summary>
        /// <param name="problems">The problems.</param>
        /// <param name="a">Address of element 0 of the A tensor.</param>
        /// <param name="b">Address of element 0 of the B tensor.</param>
        /// <param name="c">Address of element 0 of the C tensor.</param>
        /// <param name="elementSize">Bytes per element (all three share the dtype).</param>
        public static long[] Pointers(IReadOnlyList<GemmProblem> problems, long a, long b, long c, int elementSize)
        {
            var count = problems.Count;
            var pointers = new long[3 * count];
            for (var i = 0; i < count; i++)
            {
                pointers[i] = a + problems[i].OffsetA * elementSize;
                pointers[count + i] = b + problems[i].OffsetB * elementSize;
                pointers[2 * count + i] = c + problems[i].OffsetC * elementSize;
            }
            return pointers;
        }

        /// <summary>Whether every pointer is a multiple of <paramref name="alignment"/> bytes.</summary>
        /// <param name="pointers">Device addresses.</param>
        /// <param name="alignment">A power of two.</param>
        public static bool Aligned(long[] pointers, int alignment)
        {
            foreach (var pointer in pointers)
            {
                if ((pointer & (alignment - 1)) != 0) return false;
            }
            return true;
        }
    }
}
