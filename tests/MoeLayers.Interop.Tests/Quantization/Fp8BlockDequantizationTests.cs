using System;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Quantization
{
    /// <summary>FP8 block dequantization against hand-computed blocks and the DeepSeek-V3 kernel's result (Python reference).</summary>
    public class Fp8BlockDequantizationTests
    {
        [Fact]
        public void EachBlockIsScaledByItsOwnFactorIncludingPartialEdgeBlocks()
        {
            using var scope = NewDisposeScope();
            // 3 × 5 weight of 1.0 (code 0x38) except w[2, 4] = -448 (0xFE), with 2 × 2 blocks: scales [ceil(3/2), ceil(5/2)] = [2, 3].
            var codes = full(3, 5, 0x38, dtype: ScalarType.Byte);
            codes[2, 4] = tensor((byte)0xFE);
            var scales = tensor(new float[] { 1, 2, 3, 4, 5, 6 }).reshape(2, 3);
            var result = Fp8BlockDequantization.Dequantize(codes, scales, 2, 2);
            result.dtype.Should().Be(ScalarType.Float32);
            result.data<float>().ToArray().Should().Equal(
                1, 1, 2, 2, 3,
                1, 1, 2, 2, 3,
                4, 4, 5, 5, -448 * 6);
        }

        [Fact]
        public void TheFixtureWeightWith128BlocksIsBitExact()
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(QuantizationFixtures.Fp8Block);
            file.GetInfo("weight").DType.Should().Be(SafetensorsDType.F8E4M3);
            var weight = file.ReadFloat8Codes("weight");
            var scaleInv = file.Read("weight_scale_inv");
            scaleInv.shape.Should().Equal(2, 2);
            var result = Fp8BlockDequantization.Dequantize(weight, scaleInv);
            result.shape.Should().Equal(150, 200);
            Bytes.Of(result).Should().Equal(Bytes.Of(file.Read("dequantized")));
        }

        [Fact]
        public void TheFixtureExpertsWithBFloat16ScalesAnd32By64BlocksAreBitExact()
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(QuantizationFixtures.Fp8Block);
            file.Metadata["experts.weight_block_size"].Should().Be("[32, 64]");
            var scaleInv = file.Read("experts.weight_scale_inv");
            scaleInv.dtype.Should().Be(ScalarType.BFloat16);
            var result = Fp8BlockDequantization.Dequantize(file.ReadFloat8Codes("experts.weight"), scaleInv, 32, 64);
            result.shape.Should().Equal(2, 70, 90);
            Bytes.Of(result).Should().Equal(Bytes.Of(file.Read("experts.dequantized")));
        }

        [Theory]
        [InlineData(ScalarType.BFloat16)]
        [InlineData(ScalarType.Float16)]
        public void OtherOutputDTypesAreTheFloat32ProductRoundedOnce(ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(QuantizationFixtures.Fp8Block);
            var result = Fp8BlockDequantization.Dequantize(file.ReadFloat8Codes("weight"), file.Read("weight_scale_inv"), dtype: dtype);
            result.dtype.Should().Be(dtype);
            Bytes.Of(result).Should().Equal(Bytes.Of(file.Read("dequantized").to(dtype)));
        }

        [Fact]
        public void AWeightLargerThanOneStepIsDequantizedInStepsWithTheSameResult()
        {
            using var scope = NewDisposeScope();
            // 4200 × 1100 = 4.6 M elements, more than one step of about 4 M: steps of whole 128-row blocks.
            var generator = new TorchSharp.torch.Generator(7);
            var codes = randint(0, 127, new long[] { 4200, 1100 }, dtype: ScalarType.Int32, generator: generator).to(ScalarType.Byte);
            var scales = rand(new long[] { 33, 9 }, generator: generator);
            var result = Fp8BlockDequantization.Dequantize(codes, scales);
            var expected = Float8.DecodeE4M3(codes) * scales.repeat_interleave(128, 0)[..4200].repeat_interleave(128, 1)[.., ..1100];
            Bytes.Of(result).Should().Equal(Bytes.Of(expected));
        }

        [Fact]
        public void ShapesAndDTypesAreCheckedWithTheExpectedShape()
        {
            using var scope = NewDisposeScope();
            var codes = zeros(new long[] { 200, 300 }, dtype: ScalarType.Byte);
            FluentActions.Invoking(() => Fp8BlockDequantization.Dequantize(codes, ones(2, 2)))
                .Should().Throw<ArgumentException>()
                .WithMessage("'scaleInv' must be [2, 3] for weight [200, 300] with 128×128 blocks (ceil(rows/128), ceil(cols/128)); it is [2, 2]. Check quantization_config.weight_block_size.*");
            FluentActions.Invoking(() => Fp8BlockDequantization.Dequantize(codes.to(ScalarType.Float32), ones(2, 3)))
                .Should().Throw<ArgumentException>().WithMessage("'weight' (F8_E4M3 weight) must be uint8 (Byte) codes*it is Float32 [200, 300]*");
            FluentActions.Invoking(() => Fp8BlockDequantization.Dequantize(codes, ones(new long[] { 2, 3 }, dtype: ScalarType.Int32)))
                .Should().Throw<ArgumentException>().WithMessage("'scaleInv' must be Float32, BFloat16 or Float16; it is Int32.*");
            FluentActions.Invoking(() => Fp8BlockDequantization.Dequantize(zeros(5, dtype: ScalarType.Byte), ones(1)))
                .Should().Throw<ArgumentException>().WithMessage("'weight' must have at least 2 dimensions*");
            FluentActions.Invoking(() => Fp8BlockDequantization.Dequantize(codes, ones(2, 3), blockRows: 0))
                .Should().Throw<ArgumentOutOfRangeException>();
        }
    }
}
