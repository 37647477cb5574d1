using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    public class RoundTripTests
    {
        public static IEnumerable<object[]> DTypes() => new[]
        {
            new object[] { ScalarType.Float32 }, new object[] { ScalarType.Float16 }, new object[] { ScalarType.BFloat16 },
        };

        private static readonly long[][] OddShapes =
        {
            new long[] { 3, 5, 7 }, new long[] { 1 }, new long[] { 13 }, new long[] { 1, 1, 1, 1, 1 }, new long[] { 2, 3, 1, 5 },
            Array.Empty<long>(), new long[] { 0 }, new long[] { 2, 0, 3 },
        };

        [Theory]
        [MemberData(nameof(DTypes))]
        public void EveryShapeRoundTripsBitExact(ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            manual_seed(11);
            var tensors = OddShapes.Select((shape, i) => ($"t{i}", randn(shape).mul(100).to(dtype)))
                .ToDictionary(p => p.Item1, p => p.Item2);

            var path = folder.File("odd.safetensors");
            SafetensorsWriter.Write(path, tensors);

            using var file = SafetensorsFile.Open(path);
            file.Keys.Should().Equal(tensors.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (key, expected) in tensors)
            {
                var info = file.GetInfo(key);
                info.ScalarType.Should().Be(dtype);
                info.Shape.Should().Equal(expected.shape);
                info.ElementCount.Should().Be(expected.numel());
                using var actual = file.Read(key);
                actual.dtype.Should().Be(dtype);
                actual.shape.Should().Equal(expected.shape, $"shape of {key}");
                actual.device_type.Should().Be(DeviceType.CPU);
                Bytes.Of(actual).Should().Equal(Bytes.Of(expected), $"bytes of {key}");
            }
        }

        [Fact]
        public void ScalarsReadBackAsZeroDimensionalTensors()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("scalar.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["s"] = tensor(3.25f) });
            using var file = SafetensorsFile.Open(path);
            file.GetInfo("s").Shape.Should().BeEmpty();
            file.GetInfo("s").ByteLength.Should().Be(4);
            using var s = file.Read("s");
            s.dim().Should().Be(0);
            s.item<float>().Should().Be(3.25f);
        }

        [Fact]
        public void SpecialFloatValuesKeepTheirBits()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var values = new[]
            {
                float.NaN, BitConverter.Int32BitsToSingle(0x7FC00123), float.PositiveInfinity, float.NegativeInfinity,
                -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, 1e-40f,
            };
            var f32 = tensor(values);
            var tensors = new Dictionary<string, Tensor> { ["f32"] = f32, ["f16"] = f32.to(ScalarType.Float16), ["bf16"] = f32.to(ScalarType.BFloat16) };
            var path = folder.File("special.safetensors");
            SafetensorsWriter.Write(path, tensors);
            using var file = SafetensorsFile.Open(path);
            foreach (var (key, t) in tensors) Bytes.Of(file.Read(key)).Should().Equal(Bytes.Of(t), key);
        }

        [Fact]
        public void MixedDTypesAndMetadataRoundTrip()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            manual_seed(5);
            var tensors = new Dictionary<string, Tensor>
            {
                ["model.layers.0.mlp.gate.weight"] = randn(8, 16).to(ScalarType.BFloat16),
                ["model.layers.0.mlp.gate.e_score_correction_bias"] = randn(8),
                ["half"] = randn(3, 3).to(ScalarType.Float16),
                ["ключ/ü"] = randn(2),
            };
            var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "a \"quoted\" value, ü" };
            var path = folder.File("mixed.safetensors");
            SafetensorsWriter.Write(path, tensors, metadata);

            using var file = SafetensorsFile.Open(path);
            file.Metadata.Should().BeEquivalentTo(metadata);
            file.Keys.Should().BeEquivalentTo(tensors.Keys);
            foreach (var (key, t) in tensors)
            {
                file.GetInfo(key).ScalarType.Should().Be(t.dtype);
                Bytes.Of(file.Read(key)).Should().Equal(Bytes.Of(t), key);
            }
        }

        [Fact]
        public void NonContiguousTensorsAreWrittenInLogicalOrder()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var source = arange(0, 24, dtype: ScalarType.Float32).reshape(4, 6);
            var transposed = source.t();                  // [6, 4], strides (1, 6)
            var sliced = source[.., TensorIndex.Slice(1, 6, 2)];  // [4, 3], step 2
            transposed.is_contiguous().Should().BeFalse();
            sliced.is_contiguous().Should().BeFalse();
            var path = folder.File("strided.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = transposed, ["s"] = sliced });

            using var file = SafetensorsFile.Open(path);
            file.Read("t").data<float>().ToArray().Should().Equal(transposed.contiguous().data<float>().ToArray());
            file.Read("s").data<float>().ToArray().Should().Equal(sliced.contiguous().data<float>().ToArray());
            source.is_contiguous().Should().BeTrue("the caller's tensor is untouched");
            transposed.IsInvalid.Should().BeFalse("the writer disposes only its own copies");
        }

        [Fact]
        public void ReadAllWithPrefixSelectsAndStripsTheBlock()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("model.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
            {
                ["model.layers.0.mlp.gate.weight"] = ones(2, 2),
                ["model.layers.1.mlp.gate.weight"] = zeros(2, 2),
                ["model.layers.1.mlp.experts.0.w1.weight"] = full(3, 2, 7f),
                ["model.layers.10.mlp.gate.weight"] = zeros(5),
            });
            using var file = SafetensorsFile.Open(path);
            var block = file.ReadAll("model.layers.1.mlp.");
            block.Keys.Should().BeEquivalentTo("gate.weight", "experts.0.w1.weight");
            block["experts.0.w1.weight"].data<float>().ToArray().Should().AllBeEquivalentTo(7f);
            file.Invoking(f => f.ReadAll("model.layers.2.mlp.")).Should().Throw<KeyNotFoundException>()
                .WithMessage("*model.layers.2.mlp.*closest key*");
        }

        [Fact]
        public void ReadingAMissingKeyNamesTheKeyAndTheClosestOne()
        {
            using var folder = new TempFolder();
            var path = folder.File("one.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["model.layers.0.mlp.gate.weight"] = ones(1) });
            using var file = SafetensorsFile.Open(path);
            file.Invoking(f => f.Read("model.layers.0.mlp.gate.bias")).Should().Throw<KeyNotFoundException>()
                .WithMessage("*'model.layers.0.mlp.gate.bias'*closest key is 'model.layers.0.mlp.gate.weight'*");
        }

        [Fact]
        public void ALargeTensorStreamsThroughTheBoundedBuffer()
        {
            // 3 MiB of data: several 1 MiB chunks plus a remainder, in both directions.
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            manual_seed(2);
            var big = randn(786_433);
            var path = folder.File("big.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["big"] = big, ["tail"] = ones(3).to(ScalarType.BFloat16) });
            using var file = SafetensorsFile.Open(path);
            Bytes.Of(file.Read("big")).Should().Equal(Bytes.Of(big));
        }
    }
}
