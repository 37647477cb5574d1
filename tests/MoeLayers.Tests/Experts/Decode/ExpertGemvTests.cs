using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts.Decode
{
    /// <summary>
    /// The decode kernels (<see cref="ExpertGemv"/> through <see cref="ExpertDecode.Products"/>) at every width this CPU
    /// runs: float32 against TorchSharp's product, bfloat16 against the float32 product of the bfloat16 values, int8
    /// bit for bit against a scalar loop of the kernels' own arithmetic and, within a stated bound, against the product
    /// of the dequantized weights.
    /// </summary>
    /// <remarks>
    /// The bound for float32 sums: a sum of d products in any order differs from the exact sum by at most about
    /// d·u·Σ|x_i·w_i| (u = 2⁻²⁴) and in practice by √d·u·Σ|x_i·w_i|; both ours (sequential FMAs) and MKL's (blocked)
    /// are that close, so |y − y_ref| ≤ 1e-6·(Σ_i |x_i|·|w_ic| + |b_c|) per element holds with a margin of about 3 at
    /// d = 512 (√512·6e-8 = 1.4e-6 is the worst single-sum scale; the observed error is far below). It is relative to the
    /// magnitudes summed, not to y, since y can cancel to near zero.
    /// </remarks>
    public class ExpertGemvTests
    {
        private static readonly long[] Counts = { 1, 0, 3, 8, 2 };

        public static IEnumerable<object[]> Widths() =>
            Enum.GetValues<GemvWidth>().Where(ExpertGemv.Supports).Select(w => new object[] { w.ToString() });

        [Fact]
        public void ThisMachineRunsTheWidestKernel()
        {
            // The CI and development machines have Avx512F; a machine without it still runs the narrower widths.
            ExpertGemv.Widest.Should().Be(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? GemvWidth.Avx512
                : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? GemvWidth.Avx2 : GemvWidth.Scalar);
        }

        [Theory]
        [MemberData(nameof(Widths))]
        public void Float32ProductsMatchTorchSharpWithinOneMillionthOfTheSummedMagnitudes(string widthName)
        {
            var width = Enum.Parse<GemvWidth>(widthName);
            // 77 columns: four 16-wide (or nine 8-wide) vectors and a scalar tail.
            var (x, w, b) = Operands(512, 77, ScalarType.Float32, seed: 3);
            var actual = ExpertDecode.Products(x, Counts, new DecodeProjection(w, null, b), width);
            var (expected, magnitude) = Reference(x, w.to(ScalarType.Float64), null, b.to(ScalarType.Float64));
            WithinRelative(actual, expected, magnitude, 1e-6);
        }

        [Theory]
        [MemberData(nameof(Widths))]
        public void BFloat16ProductsMatchTheFloat32ProductOfTheBFloat16Values(string widthName)
        {
            var width = Enum.Parse<GemvWidth>(widthName);
            var (x, w, b) = Operands(256, 50, ScalarType.BFloat16, seed: 4);
            var actual = ExpertDecode.Products(x, Counts, new DecodeProjection(w, null, b), width);
            var (expected, magnitude) = Reference(x, w.to(ScalarType.Float64), null, b.to(ScalarType.Float64));
            WithinRelative(actual, expected, magnitude, 1e-6);
        }

        [Theory]
        [MemberData(nameof(Widths))]
        public void Int8ProductsEqualTheirOwnArithmeticBitForBitAndTheDequantizedProductWithinTheBound(string widthName)
        {
            var width = Enum.Parse<GemvWidth>(widthName);
            var (x, _, b) = Operands(300, 40, ScalarType.Float32, seed: 5);
            manual_seed(6);
            var q = randint(-127, 128, new long[] { Counts.Length, 300, 40 }, ScalarType.Int8);
            var s = rand(Counts.Length, 40) * 0.02 + 0.001;
            var actual = ExpertDecode.Products(x, Counts, new DecodeProjection(q, s, b), width);

            TensorAssert.Values(actual).Should().Equal(ScalarInt8(x, q, s, b).Select(v => (double)v), "every width runs fma(x_i, q_ic, acc) over i in order, then ·s_c, then +b_c");
            var (expected, magnitude) = Reference(x, q.to(ScalarType.Float64), s.to(ScalarType.Float64), b.to(ScalarType.Float64));
            WithinRelative(actual, expected, magnitude, 1e-6);
        }

        [Fact]
        public void EveryWidthGivesTheSameBits()
        {
            var (x, w, b) = Operands(128, 45, ScalarType.Float32, seed: 8);
            var results = Enum.GetValues<GemvWidth>().Where(ExpertGemv.Supports)
                .Select(width => TensorAssert.Values(ExpertDecode.Products(x, Counts, new DecodeProjection(w, null, b), width))).ToList();
            foreach (var result in results.Skip(1)) result.Should().Equal(results[0]);
        }

        [Fact]
        public void AScaleWithoutInt8WeightsIsRefusedBeforeAnyKernelRuns()
        {
            var (x, w, _) = Operands(16, 16, ScalarType.Float32, seed: 9);
            var act = () => ExpertDecode.Products(x, Counts, new DecodeProjection(w, ones(Counts.Length, 16), null));
            act.Should().Throw<ArgumentException>().WithMessage("*int8 weights need their per-output-channel scales, and only int8 weights have them*");
        }

        /// <summary>Rows [Σcounts, d] float32 in [-1, 1), weights [E, d, out] and bias [E, out] of <paramref name="dtype"/>.</summary>
        internal static (Tensor X, Tensor W, Tensor B) Operands(int inDim, int outDim, ScalarType dtype, int seed)
        {
            manual_seed(seed);
            var x = rand(Counts.Sum(), inDim) * 2 - 1;
            var w = ((rand(Counts.Length, inDim, outDim) * 2 - 1) / Math.Sqrt(inDim)).to(dtype);
            var b = (rand(Counts.Length, outDim) - 0.5).to(dtype);
            return (x, w, b);
        }

        /// <summary>Per group e: x_e·W[e]·diag(s[e]) + b[e] in float64, and Σ_i |x_i|·|W_ic·s_c| + |b_c|.</summary>
        private static (Tensor Expected, Tensor Magnitude) Reference(Tensor x, Tensor w, Tensor? s, Tensor b)
        {
            var x64 = x.to(ScalarType.Float64);
            var (outputs, magnitudes) = (new List<Tensor>(), new List<Tensor>());
            long first = 0;
            for (var e = 0; e < Counts.Length; e++)
            {
                var rows = x64.narrow(0, first, Counts[e]);
                var we = s is null ? w[e] : w[e] * s[e];
                outputs.Add(rows.matmul(we) + b[e]);
                magnitudes.Add(rows.abs().matmul(we.abs()) + b[e].abs());
                first += Counts[e];
            }
            return (cat(outputs, 0), cat(magnitudes, 0));
        }

        private static float[] ScalarInt8(Tensor x, Tensor q, Tensor s, Tensor b)
        {
            var (inDim, outDim) = ((int)q.shape[1], (int)q.shape[2]);
            var (xs, qs, ss, bs) = (x.data<float>().ToArray(), q.data<sbyte>().ToArray(), s.data<float>().ToArray(), b.data<float>().ToArray());
            var result = new List<float>();
            var row = 0;
            for (var e = 0; e < Counts.Length; e++)
            {
                for (var r = 0; r < Counts[e]; r++, row++)
                {
                    for (var c = 0; c < outDim; c++)
                    {
                        var acc = 0f;
                        for (var i = 0; i < inDim; i++) acc = MathF.FusedMultiplyAdd(xs[row * inDim + i], qs[(e * inDim + i) * outDim + c], acc);
                        acc *= ss[e * outDim + c];
                        acc += bs[e * outDim + c];
                        result.Add(acc);
                    }
                }
            }
            return result.ToArray();
        }

        internal static void WithinRelative(Tensor actual, Tensor expected, Tensor magnitude, double relative)
        {
            actual.shape.Should().Equal(expected.shape);
            var excess = (actual.to(ScalarType.Float64) - expected).abs() - magnitude * relative;
            excess.max().item<double>().Should().BeLessThanOrEqualTo(0, $"every element is within {relative}·Σ|x||w| of the reference");
        }
    }
}
