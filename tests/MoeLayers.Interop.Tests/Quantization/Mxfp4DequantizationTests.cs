using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Quantization
{
    /// <summary>MXFP4 dequantization against hand-computed groups and transformers' convert_moe_packed_tensors (Python reference).</summary>
    public class Mxfp4DequantizationTests
    {
        [Fact]
        public void Fp4CodesAreTransformersTable()
        {
            Enumerable.Range(0, 16).Select(Mxfp4Dequantization.Fp4Value).Should().Equal(
                0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f);
            BitConverter.SingleToInt32Bits(Mxfp4Dequantization.Fp4Value(8)).Should().Be(BitConverter.SingleToInt32Bits(-0f));
            FluentActions.Invoking(() => Mxfp4Dequantization.Fp4Value(16)).Should().Throw<ArgumentOutOfRangeException>();
        }

        [Fact]
        public void LowNibbleFirstTimesTwoToTheScaleMinus127()
        {
            using var scope = NewDisposeScope();
            // Group 0: byte 0 = 0x21 → low nibble 1 (0.5), high nibble 2 (1.0); byte 1 = 0xF7 → 7 (6.0), 15 (-6.0); the rest 0.
            // Scale 128 → × 2. Group 1: every byte 0x33 (1.5, 1.5), scale 125 → × 1/4.
            var bytes = new byte[32];
            bytes[0] = 0x21;
            bytes[1] = 0xF7;
            for (var i = 16; i < 32; i++) bytes[i] = 0x33;
            var blocks = tensor(bytes).reshape(1, 2, 16);
            var scales = tensor(new byte[] { 128, 125 }).reshape(1, 2);
            var result = Mxfp4Dequantization.Dequantize(blocks, scales);
            result.shape.Should().Equal(1, 64);
            var values = result.data<float>().ToArray();
            values[..4].Should().Equal(1f, 2f, 12f, -12f);
            values[4..32].Should().OnlyContain(v => v == 0f);
            values[32..].Should().OnlyContain(v => v == 0.375f);
        }

        [Fact]
        public void TheFixtureIsBitExactInFloat32AndBFloat16()
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(QuantizationFixtures.Mxfp4);
            var blocks = file.Read("blocks");
            var scales = file.Read("scales");
            blocks.shape.Should().Equal(2, 6, 4, 16);
            var result = Mxfp4Dequantization.Dequantize(blocks, scales);
            result.shape.Should().Equal(2, 6, 128);
            Bytes.Of(result).Should().Equal(Bytes.Of(file.Read("dequantized")), "float32, including the 2^-127 and overflowing 2^127 groups");
            Bytes.Of(Mxfp4Dequantization.Dequantize(blocks, scales, ScalarType.BFloat16)).Should().Equal(Bytes.Of(file.Read("dequantized_bf16")));
        }

        [Fact]
        public void ManyGroupsAreDequantizedInStepsWithTheSameResult()
        {
            using var scope = NewDisposeScope();
            // 140 000 groups: more than one step of 131 072 groups.
            var generator = new TorchSharp.torch.Generator(3);
            var blocks = randint(0, 256, new long[] { 2, 70_000, 16 }, dtype: ScalarType.Int32, generator: generator).to(ScalarType.Byte);
            var scales = randint(100, 150, new long[] { 2, 70_000 }, dtype: ScalarType.Int32, generator: generator).to(ScalarType.Byte);
            var result = Mxfp4Dequantization.Dequantize(blocks, scales);
            var table = tensor(Enumerable.Range(0, 16).Select(Mxfp4Dequantization.Fp4Value).ToArray());
            var low = table[blocks.to(ScalarType.Int64).bitwise_and(15)];
            var high = table[blocks.to(ScalarType.Int64).bitwise_right_shift(4)];
            var expected = stack(new[] { low, high }, -1).reshape(2, 70_000, 32) * pow(2.0f, scales.to(ScalarType.Float32) - 127).unsqueeze(-1);
            Bytes.Of(result).Should().Equal(Bytes.Of(expected.reshape(2, 70_000 * 32)));
        }

        [Fact]
        public void ScaleCode255IsRefusedWithItsPosition()
        {
            using var scope = NewDisposeScope();
            var scales = full(new long[] { 2, 3 }, 127, dtype: ScalarType.Byte);
            scales[1, 2] = tensor((byte)255);
            FluentActions.Invoking(() => Mxfp4Dequantization.Dequantize(zeros(new long[] { 2, 3, 16 }, dtype: ScalarType.Byte), scales))
                .Should().Throw<ArgumentException>()
                .WithMessage("'scales' holds code 255, which is NaN in e8m0 (not a power of two), at [1, 2] (1 such scales): the tensor is corrupt.*");
        }

        [Fact]
        public void ShapesAreCheckedWithTheExpectedShape()
        {
            using var scope = NewDisposeScope();
            var blocks = zeros(new long[] { 4, 3, 16 }, dtype: ScalarType.Byte);
            FluentActions.Invoking(() => Mxfp4Dequantization.Dequantize(blocks, zeros(new long[] { 4, 2 }, dtype: ScalarType.Byte)))
                .Should().Throw<ArgumentException>().WithMessage("'scales' must be [4, 3], one e8m0 scale per group of blocks [4, 3, 16]; it is [4, 2].*");
            FluentActions.Invoking(() => Mxfp4Dequantization.Dequantize(zeros(new long[] { 4, 3, 8 }, dtype: ScalarType.Byte), zeros(new long[] { 4, 3 }, dtype: ScalarType.Byte)))
                .Should().Throw<ArgumentException>().WithMessage("'blocks' must be [..., G, 16]*it is [4, 3, 8].*");
            FluentActions.Invoking(() => Mxfp4Dequantization.Dequantize(blocks, zeros(new long[] { 4, 3 })))
                .Should().Throw<ArgumentException>().WithMessage("'scales' (MXFP4 e8m0 scales) must be uint8 (Byte) codes*");
        }
    }
}
