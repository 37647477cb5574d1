using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    /// <summary>Every dtype the reader accepts beyond F32/F16/BF16, read from hand-built files with known bytes.</summary>
    public class DTypeReadTests : IDisposable
    {
        private readonly TempFolder _folder = new();

        public void Dispose() => _folder.Dispose();

        private SafetensorsFile OpenOne(string dtype, long[] shape, byte[] data)
        {
            var path = _folder.File(Guid.NewGuid().ToString("N") + ".safetensors");
            var header = $"{{\"w\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[0,{data.Length}]}}}}";
            File.WriteAllBytes(path, Bytes.File(header, data));
            return SafetensorsFile.Open(path);
        }

        [Fact]
        public void F64()
        {
            using var file = OpenOne("F64", new long[] { 2 }, new[] { 1.5, -0.1 }.SelectMany(BitConverter.GetBytes).ToArray());
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Float64);
            t.data<double>().ToArray().Should().Equal(1.5, -0.1);
            file.GetInfo("w").DType.Should().Be(SafetensorsDType.F64);
        }

        [Fact]
        public void I64()
        {
            using var file = OpenOne("I64", new long[] { 2 }, new[] { long.MinValue, 7L }.SelectMany(BitConverter.GetBytes).ToArray());
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Int64);
            t.data<long>().ToArray().Should().Equal(long.MinValue, 7L);
        }

        [Fact]
        public void I32()
        {
            using var file = OpenOne("I32", new long[] { 1, 2 }, new[] { -3, int.MaxValue }.SelectMany(BitConverter.GetBytes).ToArray());
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Int32);
            t.shape.Should().Equal(1, 2);
            t.data<int>().ToArray().Should().Equal(-3, int.MaxValue);
        }

        [Fact]
        public void I16()
        {
            using var file = OpenOne("I16", new long[] { 2 }, new short[] { -2, 300 }.SelectMany(BitConverter.GetBytes).ToArray());
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Int16);
            t.data<short>().ToArray().Should().Equal(-2, 300);
        }

        [Fact]
        public void I8()
        {
            using var file = OpenOne("I8", new long[] { 3 }, new byte[] { 0xFF, 0x80, 0x05 });
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Int8);
            t.data<sbyte>().ToArray().Should().Equal(-1, -128, 5);
        }

        [Fact]
        public void U8()
        {
            using var file = OpenOne("U8", new long[] { 3 }, new byte[] { 0xFF, 0x80, 0x05 });
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Byte);
            t.data<byte>().ToArray().Should().Equal(255, 128, 5);
        }

        [Fact]
        public void Bool()
        {
            using var file = OpenOne("BOOL", new long[] { 2 }, new byte[] { 1, 0 });
            using var t = file.Read("w");
            t.dtype.Should().Be(ScalarType.Bool);
            t.data<bool>().ToArray().Should().Equal(true, false);
        }

        [Theory]
        [InlineData("F8_E4M3", SafetensorsDType.F8E4M3)]
        [InlineData("F8_E5M2", SafetensorsDType.F8E5M2)]
        [InlineData("F8_E8M0", SafetensorsDType.F8E8M0)]
        public void Float8IsReadAsItsCodesOnlyThroughReadFloat8Codes(string name, SafetensorsDType dtype)
        {
            using var file = OpenOne(name, new long[] { 2, 2 }, new byte[] { 0x38, 0x7F, 0x00, 0xFE });
            var info = file.GetInfo("w");
            info.DType.Should().Be(dtype);
            info.ScalarType.Should().Be(ScalarType.Byte);
            info.DType.HeaderName().Should().Be(name);
            info.DType.IsFloat8().Should().BeTrue();
            info.DType.IsWritable().Should().BeFalse();

            using var codes = file.ReadFloat8Codes("w");
            codes.dtype.Should().Be(ScalarType.Byte);
            codes.shape.Should().Equal(2, 2);
            codes.data<byte>().ToArray().Should().Equal(0x38, 0x7F, 0x00, 0xFE);

            FluentActions.Invoking(() => file.Read("w")).Should().Throw<NotSupportedException>()
                .WithMessage($"tensor 'w' in safetensors file '{file.FilePath}' is {name} [2, 2], which TorchSharp has no scalar type for: read its codes with ReadFloat8Codes*");
            FluentActions.Invoking(() => file.ReadAll()).Should().Throw<NotSupportedException>().WithMessage("*ReadFloat8Codes*");
        }

        [Fact]
        public void ReadFloat8CodesRefusesOtherDTypes()
        {
            using var file = OpenOne("F32", new long[] { 1 }, Bytes.Floats(1f));
            FluentActions.Invoking(() => file.ReadFloat8Codes("w")).Should().Throw<NotSupportedException>()
                .WithMessage("*'w'*is F32, not a float8 dtype*read it with Read*");
        }

        [Theory]
        [InlineData("F64", 8)]
        [InlineData("I64", 8)]
        [InlineData("I32", 4)]
        [InlineData("I16", 2)]
        [InlineData("I8", 1)]
        [InlineData("U8", 1)]
        [InlineData("BOOL", 1)]
        [InlineData("F8_E4M3", 1)]
        [InlineData("F8_E5M2", 1)]
        [InlineData("F8_E8M0", 1)]
        public void ElementSizesAreCheckedAgainstTheOffsets(string name, int size)
        {
            SafetensorsDTypes.TryParse(name, out var dtype).Should().BeTrue();
            dtype.ElementSize().Should().Be(size);
            var path = _folder.File(name + ".safetensors");
            var wrong = 3 * size + 1;
            File.WriteAllBytes(path, Bytes.File($"{{\"w\":{{\"dtype\":\"{name}\",\"shape\":[3],\"data_offsets\":[0,{wrong}]}}}}", new byte[wrong]));
            FluentActions.Invoking(() => SafetensorsFile.Open(path)).Should().Throw<SafetensorsFormatException>()
                .WithMessage($"*hold {wrong} bytes but shape [3] of {name} needs {3 * size} bytes*");
        }

        [Fact]
        public void WritingStaysFloat32Float16AndBFloat16()
        {
            using var scope = NewDisposeScope();
            FluentActions.Invoking(() => new SafetensorsTensorSource("w", SafetensorsDType.F8E4M3, new long[] { 2 }, () => zeros(2, dtype: ScalarType.Byte)))
                .Should().Throw<ArgumentException>().WithMessage("tensor 'w' is declared F8_E4M3; MoeLayers.Interop writes Float32 (F32), Float16 (F16) and BFloat16 (BF16) only.*");
            FluentActions.Invoking(() => SafetensorsTensorSource.Of("w", zeros(2, dtype: ScalarType.Int64)))
                .Should().Throw<ArgumentException>().WithMessage("tensor 'w' has dtype Int64; MoeLayers.Interop writes Float32 (F32), Float16 (F16) and BFloat16 (BF16) only.*");
            new[] { SafetensorsDType.F32, SafetensorsDType.F16, SafetensorsDType.BF16 }.Should().OnlyContain(d => d.IsWritable());
        }
    }
}
