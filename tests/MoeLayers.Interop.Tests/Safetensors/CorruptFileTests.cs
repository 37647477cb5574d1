using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    /// <summary>Every malformed file is refused on Open, with the file, the key and what was expected against what was found.</summary>
    public class CorruptFileTests : IDisposable
    {
        private readonly TempFolder _folder = new();

        public void Dispose() => _folder.Dispose();

        private string Write(byte[] bytes)
        {
            var path = _folder.File(Guid.NewGuid().ToString("N") + ".safetensors");
            File.WriteAllBytes(path, bytes);
            return path;
        }

        private SafetensorsFormatException Refused(byte[] bytes, string? key = null)
        {
            var path = Write(bytes);
            var e = FluentActions.Invoking(() => SafetensorsFile.Open(path)).Should().Throw<SafetensorsFormatException>().Which;
            e.FilePath.Should().Be(path);
            e.Message.Should().Contain(path);
            e.Key.Should().Be(key);
            if (key is not null) e.Message.Should().Contain($"'{key}'");
            return e;
        }

        private static byte[] One(string entry, byte[] data) => Bytes.File("{\"w\":" + entry + "}", data);

        [Fact]
        public void FileShorterThanTheLengthField()
            => Refused(new byte[] { 1, 2, 3, 4, 5 }).Message.Should().Contain("5 bytes long, shorter than the 8-byte header length");

        [Fact]
        public void HeaderLengthBeyondTheFile()
            => Refused(Bytes.File("{}", new byte[6], declaredLength: 1000)).Message.Should().Contain("says 1000 bytes but only 8 bytes follow");

        [Fact]
        public void HeaderLengthAboveTheFormatLimit()
        {
            // A sparse file large enough to hold the declared header, so only the limit refuses it.
            var path = _folder.File("huge.safetensors");
            using (var f = new FileStream(path, FileMode.CreateNew))
            {
                var length = new byte[8];
                BitConverter.TryWriteBytes(length, 100_000_001UL);
                f.Write(length);
                f.SetLength(8 + 100_000_001L);
            }

            FluentActions.Invoking(() => SafetensorsFile.Open(path)).Should().Throw<SafetensorsFormatException>()
                .WithMessage("*100000001 bytes, more than the format's limit of 100000000*");
        }

        [Fact]
        public void TruncatedFileNamesTheTensorThatNoLongerFits()
        {
            using var scope = NewDisposeScope();
            var path = _folder.File("whole.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["first"] = ones(4), ["second"] = ones(4) });
            var bytes = File.ReadAllBytes(path);
            Refused(bytes[..^3], "second").Message.Should().Contain("data_offsets [16, 32] reach past the end of the data section, which has 29 bytes");
        }

        [Fact]
        public void HeaderThatIsNotJson() => Refused(Bytes.File("{not json", Array.Empty<byte>())).Message.Should().Contain("is not valid UTF-8 JSON");

        [Fact]
        public void HeaderThatIsNotUtf8()
        {
            // The key "wÿ" in Latin-1: the byte 0xFF never occurs in UTF-8.
            var bad = Encoding.Latin1.GetBytes("{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}");
            Refused(Bytes.File(bad, new byte[4])).Message.Should().Contain("is not valid UTF-8 (invalid byte 0xFF at offset 3)");
        }

        [Fact]
        public void HeaderThatIsAnArray() => Refused(Bytes.File("[]", Array.Empty<byte>())).Message.Should().Contain("must be a JSON object, found a JSON Array");

        [Fact]
        public void DuplicateKey()
        {
            var entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
            Refused(Bytes.File("{\"w\":" + entry + ",\"w\":" + entry + "}", new byte[4]), "w").Message.Should().Contain("appears twice");
        }

        [Theory]
        [InlineData("U16")]
        [InlineData("U32")]
        [InlineData("U64")]
        [InlineData("C64")]
        [InlineData("F6_E2M3")]
        [InlineData("F6_E3M2")]
        [InlineData("F4")]
        public void UnsupportedDTypeIsRefusedByName(string dtype)
            => Refused(One($"{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]), "w")
                .Message.Should().Contain(
                    $"dtype '{dtype}' is not supported: MoeLayers.Interop reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2 and F8_E8M0 only");

        [Fact]
        public void UnknownDTypeIsRefusedByName()
            => Refused(One("{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}", new byte[4]), "w")
                .Message.Should().Contain("dtype 'F33' is not a safetensors dtype");

        [Theory]
        [InlineData("{\"shape\":[1],\"data_offsets\":[0,4]}", "no 'dtype' string")]
        [InlineData("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", "no 'shape' array")]
        [InlineData("{\"dtype\":\"F32\",\"shape\":[1]}", "no 'data_offsets' array")]
        [InlineData("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", "'shape' entry 0 must be a non-negative integer, found -1")]
        [InlineData("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}", "'shape' entry 0 must be a non-negative integer, found 1.5")]
        [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}", "'data_offsets' must have 2 entries, found 3")]
        [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}", "data_offsets [4, 0] end before they begin")]
        [InlineData("[0,4]", "must be a JSON object with dtype, shape and data_offsets")]
        public void MalformedEntry(string entry, string expected) => Refused(One(entry, new byte[4]), "w").Message.Should().Contain(expected);

        [Fact]
        public void OffsetsInconsistentWithShape()
            => Refused(One("{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}", new byte[12]), "w")
                .Message.Should().Contain("data_offsets [0, 12] hold 12 bytes but shape [2, 2] of F32 needs 16 bytes");

        [Fact]
        public void ShapeTooLargeToCount()
            => Refused(One("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}", new byte[4]), "w")
                .Message.Should().Contain("has more elements than a file can hold");

        [Fact]
        public void OffsetsOutsideTheDataSection()
            => Refused(One("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}", new byte[16]), "w")
                .Message.Should().Contain("data_offsets [8, 24] reach past the end of the data section, which has 16 bytes");

        [Fact]
        public void OverlappingTensors()
        {
            var header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
            Refused(Bytes.File(header, new byte[12]), "b").Message.Should().Contain("data_offsets [4, 12] overlap tensor 'a' at [0, 8]");
        }

        [Fact]
        public void UnusedBytesBetweenTensors()
        {
            var header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
            Refused(Bytes.File(header, new byte[12]), "b").Message.Should().Contain("leave bytes [4, 8) of the data section unused");
        }

        [Fact]
        public void BytesAfterTheLastTensor()
            => Refused(One("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", new byte[7]))
                .Message.Should().Contain("the tensors end at byte 4 of the data section but the file holds 7 data bytes");

        [Fact]
        public void MetadataWithANonStringValue()
            => Refused(Bytes.File("{\"__metadata__\":{\"format\":1}}", Array.Empty<byte>()))
                .Message.Should().Contain("metadata value 'format' must be a JSON string, found a JSON Number");

        [Fact]
        public void ZeroSizeTensorsMayShareAnOffset()
        {
            var header = "{\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         + "\"e2\":{\"dtype\":\"BF16\",\"shape\":[2,0],\"data_offsets\":[4,4]}}";
            using var file = SafetensorsFile.Open(Write(Bytes.File(header, Bytes.Floats(9f))));
            file.Read("e2").shape.Should().Equal(2, 0);
            file.Read("a").item<float>().Should().Be(9f);
        }

        [Fact]
        public void FileThatShrinksAfterOpenFailsTheReadNotSilently()
        {
            using var scope = NewDisposeScope();
            var path = _folder.File("shrinks.safetensors");
            // Large enough that the bytes cannot all sit in the file stream's buffer from reading the header.
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = ones(65536) });
            using var file = SafetensorsFile.Open(path);
            using (var writer = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
                writer.SetLength(writer.Length - 100);
            file.Invoking(f => f.Read("w")).Should().Throw<SafetensorsFormatException>()
                .Where(e => e.Key == "w").WithMessage("*the file ended after * of the tensor's 262144 bytes*");
        }
    }
}
