using System;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// Rounding bounds for products of bfloat16 / float16 operands computed as libtorch computes them on the CPU (and as
    /// every form of <see cref="GroupedProducts"/> does): products accumulated in float32, the result rounded once to the
    /// half dtype. For C = A·B with inner dimension K and exact result C* (from the same half operands in float64):
    /// the float32 sum, in any order and with or without fused multiply-adds, is within γ_K·(|A|·|B|) of C*, with
    /// γ_K = K·u₃₂/(1 − K·u₃₂) and u₃₂ = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1, eq. 3.4–3.5);
    /// rounding that sum to the half dtype adds at most u times its magnitude (u = 2⁻⁸ for bfloat16, 2⁻¹¹ for float16: half
    /// the spacing at 1 of 8 and 11 significant bits) plus, below the dtype's smallest normal number, half its subnormal
    /// spacing η (float16 2⁻²⁴; bfloat16 2⁻¹³³) (Higham §2.1, eq. 2.8). So, elementwise,
    /// |C − C*| ≤ u·|C*| + (1 + u)·γ_K·(|A|·|B|) + η/2.
    /// Two such computations of the same product (two summation orders) therefore differ by at most twice that.
    /// </summary>
    internal static class HalfPrecisionRounding
    {
        /// <summary>float32's unit roundoff, 2⁻²⁴.</summary>
        public const double Float32Roundoff = 1.0 / (1 << 24);

        /// <summary>Unit roundoff of <paramref name="dtype"/>: bfloat16 2⁻⁸, float16 2⁻¹¹.</summary>
        public static double Roundoff(ScalarType dtype) => dtype switch
        {
            ScalarType.BFloat16 => 1.0 / 256,
            ScalarType.Float16 => 1.0 / 2048,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "a half-precision dtype"),
        };

        /// <summary>Half the subnormal spacing of <paramref name="dtype"/>: the most an underflowing rounding adds beyond u·|x|.</summary>
        public static double HalfSubnormalSpacing(ScalarType dtype) => dtype switch
        {
            ScalarType.BFloat16 => Math.Pow(2, -134),
            ScalarType.Float16 => Math.Pow(2, -25),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "a half-precision dtype"),
        };

        /// <summary>γ_K for float32 sums of <paramref name="terms"/> products.</summary>
        public static double Gamma(long terms) => terms * Float32Roundoff / (1 - terms * Float32Roundoff);

        /// <summary>
        /// The elementwise bound u·|C*| + (1 + u)·γ_K·magnitude + η/2 of a half-precision product against its exact value.
        /// </summary>
        /// <param name="exact">C* in float64.</param>
        /// <param name="magnitude">|A|·|B| in float64.</param>
        /// <param name="inner">K (an upper bound serves: γ grows with K).</param>
        /// <param name="dtype">The half dtype.</param>
        public static Tensor ProductBound(Tensor exact, Tensor magnitude, long inner, ScalarType dtype)
        {
            var u = Roundoff(dtype);
            return exact.abs().mul(u).add(magnitude.mul((1 + u) * Gamma(inner))).add(HalfSubnormalSpacing(dtype));
        }
    }
}
