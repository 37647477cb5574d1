using System;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Quantization
{
    /// <summary>Float8 decoding: hand-computed codes, then all 256 codes of each format against the Python reference.</summary>
    public class Float8Tests
    {
        private static int Bits(float f) => BitConverter.SingleToInt32Bits(f);

        [Theory]
        [InlineData(0x00, 0.0)]
        [InlineData(0x01, 0.001953125)]   // smallest subnormal: 1/8 · 2^-6 = 2^-9
        [InlineData(0x07, 0.013671875)]   // largest subnormal: 7/8 · 2^-6
        [InlineData(0x08, 0.015625)]      // smallest normal: 2^-6
        [InlineData(0x38, 1.0)]           // exponent 7 = bias
        [InlineData(0x3C, 1.5)]
        [InlineData(0x40, 2.0)]
        [InlineData(0x77, 240.0)]         // 1.875 · 2^7
        [InlineData(0x7E, 448.0)]         // the largest finite value: 1.75 · 2^8
        [InlineData(0xB8, -1.0)]
        [InlineData(0xFE, -448.0)]
        public void E4M3HandComputed(int code, double expected) => Float8.E4M3Value((byte)code).Should().Be((float)expected);

        [Fact]
        public void E4M3NegativeZeroAndNaNs()
        {
            Bits(Float8.E4M3Value(0x80)).Should().Be(Bits(-0.0f));
            float.IsNaN(Float8.E4M3Value(0x7F)).Should().BeTrue();
            float.IsNaN(Float8.E4M3Value(0xFF)).Should().BeTrue();
            Enumerable.Range(0, 256).Count(c => float.IsNaN(Float8.E4M3Value((byte)c))).Should().Be(2, "e4m3fn has exactly two NaNs and no infinity");
            Enumerable.Range(0, 256).Any(c => float.IsInfinity(Float8.E4M3Value((byte)c))).Should().BeFalse();
        }

        [Theory]
        [InlineData(0x3C, 1.0)]
        [InlineData(0x01, 1.52587890625e-05)]   // 1/4 · 2^-14 = 2^-16
        [InlineData(0x7B, 57344.0)]             // the largest finite value: 1.75 · 2^15
        [InlineData(0xC0, -2.0)]
        public void E5M2HandComputed(int code, double expected) => Float8.E5M2Value((byte)code).Should().Be((float)expected);

        [Fact]
        public void E5M2InfinitiesAndNaNs()
        {
            Float8.E5M2Value(0x7C).Should().Be(float.PositiveInfinity);
            Float8.E5M2Value(0xFC).Should().Be(float.NegativeInfinity);
            float.IsNaN(Float8.E5M2Value(0x7D)).Should().BeTrue();
            float.IsNaN(Float8.E5M2Value(0xFF)).Should().BeTrue();
        }

        [Fact]
        public void E8M0IsAPowerOfTwo()
        {
            Float8.E8M0Value(127).Should().Be(1f);
            Float8.E8M0Value(128).Should().Be(2f);
            Float8.E8M0Value(0).Should().Be((float)Math.Pow(2, -127));
            Bits(Float8.E8M0Value(0)).Should().Be(1 << 22, "2^-127 = 2^22 · 2^-149 is the float32 subnormal with only mantissa bit 22 set");
            Float8.E8M0Value(254).Should().Be((float)Math.Pow(2, 127));
            float.IsNaN(Float8.E8M0Value(255)).Should().BeTrue();
        }

        [Fact]
        public void All256CodesOfEachFormatMatchThePythonReferenceBitForBit()
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(QuantizationFixtures.Float8Codes);
            var codes = file.Read("codes");
            codes.data<byte>().ToArray().Should().Equal(Enumerable.Range(0, 256).Select(c => (byte)c));
            foreach (var (name, value, decode) in new (string, Func<byte, float>, Func<Tensor, Tensor>?)[]
                     {
                         ("e4m3", Float8.E4M3Value, c => Float8.DecodeE4M3(c)),
                         ("e5m2", Float8.E5M2Value, c => Float8.DecodeE5M2(c)),
                         ("e8m0", Float8.E8M0Value, null),
                     })
            {
                var expected = file.Read(name).data<float>().ToArray();
                var decoded = decode?.Invoke(codes).data<float>().ToArray();
                for (var c = 0; c < 256; c++)
                {
                    var mine = value((byte)c);
                    if (float.IsNaN(expected[c]))
                    {
                        float.IsNaN(mine).Should().BeTrue($"{name} code 0x{c:X2} is NaN");
                        if (decoded is not null) float.IsNaN(decoded[c]).Should().BeTrue();
                        continue;
                    }

                    Bits(mine).Should().Be(Bits(expected[c]), $"{name} code 0x{c:X2} is {expected[c]}");
                    if (decoded is not null) Bits(decoded[c]).Should().Be(Bits(expected[c]), $"decoded {name} code 0x{c:X2}");
                }
            }
        }

        [Theory]
        [InlineData(ScalarType.BFloat16)]
        [InlineData(ScalarType.Float16)]
        public void DecodingIntoSixteenBitTypesIsExact(ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            var codes = arange(256, dtype: ScalarType.Int32).to(ScalarType.Byte).reshape(16, 16);
            foreach (var (decode, name) in new (Func<Tensor, ScalarType, Tensor>, string)[] { (Float8.DecodeE4M3, "e4m3"), (Float8.DecodeE5M2, "e5m2") })
            {
                var narrow = decode(codes, dtype);
                narrow.dtype.Should().Be(dtype);
                narrow.shape.Should().Equal(16, 16);
                var wide = decode(codes, ScalarType.Float32);
                var finite = wide.isfinite();
                narrow.to(ScalarType.Float32).masked_select(finite).eq(wide.masked_select(finite)).all().item<bool>().Should().BeTrue(name);
                narrow.isnan().eq(wide.isnan()).all().item<bool>().Should().BeTrue(name);
            }
        }

        [Fact]
        public void DecodeRefusesWhatIsNotUint8CodesOrAFloatOutput()
        {
            using var scope = NewDisposeScope();
            FluentActions.Invoking(() => Float8.DecodeE4M3(zeros(3))).Should().Throw<ArgumentException>()
                .WithMessage("'codes' (F8_E4M3 codes) must be uint8 (Byte) codes, as SafetensorsFile.ReadFloat8Codes and Read give them; it is Float32 [3].*");
            FluentActions.Invoking(() => Float8.DecodeE4M3(zeros(3, dtype: ScalarType.Byte), ScalarType.Float64)).Should().Throw<ArgumentException>()
                .WithMessage("the output dtype must be Float32, BFloat16 or Float16, not Float64.*");
        }
    }
}
