using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>The kernels' bit-level half conversions against torch's casts, and the written-out exp.</summary>
    public class ElementCodecTests
    {
        [Fact]
        public void HalfFormatsWidenExactlyLikeTorchForAllBitPatterns()
        {
            var patterns = Enumerable.Range(0, 1 << 16).Select(i => (short)(ushort)i).ToArray();
            foreach (var (dtype, load) in new (ScalarType, Func<ushort, float>)[]
                     {
                         (ScalarType.BFloat16, v => default(BFloat16Codec).Load(v)),
                         (ScalarType.Float16, v => default(Float16Codec).Load(v)),
                     })
            {
                var expected = Reinterpret(tensor(patterns), dtype).to(ScalarType.Float32).data<float>().ToArray();
                for (var i = 0; i < patterns.Length; i++)
                {
                    var actual = load((ushort)patterns[i]);
                    if (float.IsNaN(expected[i])) float.IsNaN(actual).Should().BeTrue($"{dtype} pattern {i:x4} is NaN");
                    else BitConverter.SingleToInt32Bits(actual).Should().Be(BitConverter.SingleToInt32Bits(expected[i]), $"{dtype} pattern {i:x4}");
                }
            }
        }

        [Fact]
        public void HalfFormatsRoundToNearestEvenLikeTorch()
        {
            var random = randn(20000, generator: new Generator(9)) * tensor(new[] { 1e-6f, 1e-3f, 1f, 300f, 70000f }).repeat(4000);
            var special = tensor(new[] { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 65504f, 65519.99f, 65520f, 6.1035156e-05f,
                5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 8.940697e-08f, 1.0009766f, 1.0004883f, 3.3895314e38f, 1.00390625f, 1.01171875f });
            var values = cat(new[] { random, special, -special }).data<float>().ToArray();
            foreach (var (dtype, store) in new (ScalarType, Func<float, ushort>)[]
                     {
                         (ScalarType.BFloat16, v => default(BFloat16Codec).Store(v)),
                         (ScalarType.Float16, v => default(Float16Codec).Store(v)),
                     })
            {
                var expected = Reinterpret(tensor(values).to(dtype), ScalarType.Int16).data<short>().ToArray();
                for (var i = 0; i < values.Length; i++)
                    ((short)store(values[i])).Should().Be(expected[i], $"{dtype} of {values[i]:R}");
            }
        }

        [Fact]
        public void ExpOfNonPositiveArgumentsIsWithinTwoUlps()
        {
            for (var x = 0.0f; x > -110f; x -= 0.0137f) CheckExp(x);
            foreach (var x in new[] { -87.3f, -87.4f, -103.9f, -1e-8f, -0.3465736f, -0.3465737f }) CheckExp(x);
            DeviceMath.ExpNonPositive(float.NegativeInfinity).Should().Be(0f);
            float.IsNaN(DeviceMath.ExpNonPositive(float.NaN)).Should().BeTrue();
        }

        private static void CheckExp(float x)
        {
            var expected = (float)Math.Exp(x);
            var actual = DeviceMath.ExpNonPositive(x);
            if (expected < 1e-37f) Math.Abs(actual - expected).Should().BeLessThan(2e-44f, $"exp({x:R}) in the subnormal range");
            else Math.Abs(BitConverter.SingleToInt32Bits(actual) - BitConverter.SingleToInt32Bits(expected)).Should().BeLessThanOrEqualTo(2, $"exp({x:R})");
        }

        /// <summary>Reinterprets 16-bit data as another 16-bit dtype (bits unchanged).</summary>
        private static Tensor Reinterpret(Tensor t, ScalarType dtype)
        {
            var result = empty(t.shape, dtype);
            result.bytes = t.contiguous().bytes;
            return result;
        }
    }
}
