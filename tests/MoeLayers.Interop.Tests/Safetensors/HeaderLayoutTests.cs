using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    public class HeaderLayoutTests
    {
        [Fact]
        public void WrittenFileHasTheReferenceLayoutByteForByte()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("layout.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
            {
                ["b"] = tensor(new[] { 1f, 2f }),
                ["a"] = tensor(new[] { 0.5f, -1f, 2f }).to(ScalarType.Float16),
                ["c"] = tensor(1.5f).to(ScalarType.BFloat16),
                ["a2"] = tensor(new[] { 3f }),
            }, new Dictionary<string, string> { ["format"] = "pt" });

            // F32 first (a2, b by key), then BF16 (c), then F16 (a); offsets back to back.
            const string json = "{\"__metadata__\":{\"format\":\"pt\"},"
                                + "\"a2\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[12,14]},"
                                + "\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[14,20]}}";
            var padding = (8 - json.Length % 8) % 8;
            var expected = new List<byte>();
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
            expected.AddRange(length);
            expected.AddRange(Encoding.UTF8.GetBytes(json + new string(' ', padding)));
            expected.AddRange(Bytes.Floats(3f, 1f, 2f));
            expected.AddRange(new byte[] { 0xC0, 0x3F });                          // bfloat16 1.5
            expected.AddRange(new byte[] { 0x00, 0x38, 0x00, 0xBC, 0x00, 0x40 });  // half 0.5, -1, 2

            File.ReadAllBytes(path).Should().Equal(expected);
            ((8 + json.Length + padding) % 8).Should().Be(0, "the data section starts 8-byte aligned");
        }

        [Fact]
        public void EmptyDictionaryWritesAValidEmptyFile()
        {
            using var folder = new TempFolder();
            var path = folder.File("empty.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor>());
            File.ReadAllBytes(path).Should().Equal(Bytes.File("{}      ", Array.Empty<byte>()));
            using var file = SafetensorsFile.Open(path);
            file.Keys.Should().BeEmpty();
            file.Metadata.Should().BeEmpty();
        }

        [Fact]
        public void ReaderAcceptsAHandBuiltFileAndReportsItsEntries()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("hand.safetensors");
            // Unpadded header, keys out of data order, extra whitespace, an unknown field the reader ignores.
            var header = "{ \"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [8, 24], \"extra\": 1},"
                         + " \"v\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                         + " \"__metadata__\": {\"format\": \"pt\"} }";
            File.WriteAllBytes(path, Bytes.File(header, Bytes.Floats(10f, 20f, 1f, 2f, 3f, 4f)));

            using var file = SafetensorsFile.Open(path);
            file.HeaderLength.Should().Be(Encoding.UTF8.GetByteCount(header));
            file.Keys.Should().Equal("v", "w");
            file.Metadata.Should().Equal(new Dictionary<string, string> { ["format"] = "pt" });
            var w = file.GetInfo("w");
            w.DType.Should().Be(SafetensorsDType.F32);
            w.Shape.Should().Equal(2, 2);
            (w.DataBegin, w.DataEnd, w.ByteLength, w.ElementCount).Should().Be((8L, 24L, 16L, 4L));
            w.ToString().Should().Be("w: F32 [2, 2], bytes [8, 24)");
            file.Read("w").data<float>().ToArray().Should().Equal(1f, 2f, 3f, 4f);
            file.Read("v").data<float>().ToArray().Should().Equal(10f, 20f);
        }

        [Fact]
        public void BFloat16AndFloat16BytesAreTheLittleEndianEncodings()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("halves.safetensors");
            var header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
            // F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 1.0 = 0x3F80, 0.15625 = 0x3E20.
            File.WriteAllBytes(path, Bytes.File(header, new byte[] { 0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F, 0x20, 0x3E }));
            using var file = SafetensorsFile.Open(path);
            file.Read("h").to(ScalarType.Float32).data<float>().ToArray().Should().Equal(1f, -2f);
            file.Read("b").to(ScalarType.Float32).data<float>().ToArray().Should().Equal(1f, 0.15625f);
        }

        [Fact]
        public void PythonWrittenFixturesAndCSharpWritesAreByteIdentical()
        {
            // Both writers follow the reference layout, so reading a fixture and writing it back reproduces it exactly.
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            foreach (var family in Fixtures.Families)
            {
                foreach (var source in new[] { Fixtures.Weights(family), Fixtures.Io(family) })
                {
                    using var file = SafetensorsFile.Open(source);
                    var copy = folder.File(family + "-" + Path.GetFileName(source));
                    SafetensorsWriter.Write(copy, file.ReadAll(), file.Metadata);
                    File.ReadAllBytes(copy).Should().Equal(File.ReadAllBytes(source), $"{family}/{Path.GetFileName(source)}");
                }
            }
        }
    }
}
