using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.StateDicts
{
    public class StateDictTests : IDisposable
    {
        private readonly TempFolder _folder = new();

        public void Dispose() => _folder.Dispose();

        /// <summary>Two linear layers and a persistent float buffer: state dict fc1.weight [3, 4], fc1.bias [3], fc2.weight [2, 3], fc2.bias [2], scale [2].</summary>
        private sealed class TinyBlock : nn.Module<Tensor, Tensor>
        {
#pragma warning disable IDE0044 // RegisterComponents registers fields by name
            private Linear fc1;
            private Linear fc2;
#pragma warning restore IDE0044

            public TinyBlock(long seed) : base(nameof(TinyBlock))
            {
                manual_seed(seed);
                fc1 = nn.Linear(4, 3);
                fc2 = nn.Linear(3, 2);
                register_buffer("scale", rand(2) + 0.5f);
                RegisterComponents();
            }

            public override Tensor forward(Tensor x) => fc2.call(nn.functional.relu(fc1.call(x))) * get_buffer("scale")!;
        }

        private static Dictionary<string, byte[]> Snapshot(nn.Module module)
            => module.state_dict().ToDictionary(kv => kv.Key, kv => Bytes.Of(kv.Value));

        private string SaveDict(Dictionary<string, Tensor> tensors, string name = "file.safetensors")
        {
            var path = _folder.File(name);
            SafetensorsWriter.Write(path, tensors);
            return path;
        }

        private static Dictionary<string, Tensor> Copy(nn.Module module)
            => module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

        [Fact]
        public void ModuleRoundTripsBitExactAndComputesTheSame()
        {
            using var scope = NewDisposeScope();
            var source = new TinyBlock(1);
            var target = new TinyBlock(2);
            var path = _folder.File("tiny.safetensors");
            SafetensorsStateDict.SaveModule(source, path, metadata: new Dictionary<string, string> { ["format"] = "pt" });

            var result = SafetensorsStateDict.LoadModule(target, path);
            result.LoadedKeys.Should().Equal("fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "scale");
            result.IgnoredKeys.Should().BeEmpty();
            Snapshot(target).Should().BeEquivalentTo(Snapshot(source));
            var x = randn(5, 4);
            Bytes.Of(target.call(x)).Should().Equal(Bytes.Of(source.call(x)));
            target.parameters().Should().OnlyContain(p => p.requires_grad, "loading keeps parameters trainable");
        }

        [Fact]
        public void APrefixSelectsOneBlockOfALargerFile()
        {
            using var scope = NewDisposeScope();
            var layer2 = new TinyBlock(2);
            var layer3 = new TinyBlock(3);
            var whole = new Dictionary<string, Tensor>();
            foreach (var (k, v) in layer2.state_dict()) whole["model.layers.2.mlp." + k] = v;
            foreach (var (k, v) in layer3.state_dict()) whole["model.layers.3.mlp." + k] = v;
            whole["model.layers.3.input_layernorm.weight"] = ones(4);
            var path = SaveDict(whole);

            var target = new TinyBlock(9);
            var result = SafetensorsStateDict.LoadModule(target, path, new StateDictLoadOptions { Prefix = "model.layers.3.mlp." });
            result.LoadedKeys.Should().HaveCount(5);
            Snapshot(target).Should().BeEquivalentTo(Snapshot(layer3));

            var saved = _folder.File("block.safetensors");
            SafetensorsStateDict.SaveModule(target, saved, prefix: "model.layers.3.mlp.");
            using var file = SafetensorsFile.Open(saved);
            file.Keys.Should().OnlyContain(k => k.StartsWith("model.layers.3.mlp.", StringComparison.Ordinal)).And.HaveCount(5);
            var plain = SafetensorsStateDict.Load(saved, "model.layers.3.mlp.");
            plain.Keys.Should().BeEquivalentTo(layer3.state_dict().Keys);
        }

        public static IEnumerable<object[]> Failures() => new[]
        {
            new object[] { "missing", StateDictProblemKind.MissingKey, new[] { "'fc2.bias'", "expects shape [2]" } },
            new object[] { "unexpected", StateDictProblemKind.UnexpectedKey, new[] { "'fc3.weight'", "shape [2, 2]" } },
            new object[] { "shape", StateDictProblemKind.ShapeMismatch, new[] { "'fc1.weight'", "expected shape [3, 4]", "the file has [3, 5]" } },
            new object[] { "dtype", StateDictProblemKind.DTypeMismatch, new[] { "'fc2.weight'", "expected F32", "the file has BF16" } },
        };

        [Theory]
        [MemberData(nameof(Failures))]
        public void EachMismatchIsNamedAndLeavesTheModuleBitIdentical(string scenario, StateDictProblemKind kind, string[] mentions)
        {
            using var scope = NewDisposeScope();
            var file = Copy(new TinyBlock(1));
            switch (scenario)
            {
                case "missing": file.Remove("fc2.bias"); break;
                case "unexpected": file["fc3.weight"] = ones(2, 2); break;
                case "shape": file["fc1.weight"] = ones(3, 5); break;
                case "dtype": file["fc2.weight"] = file["fc2.weight"].to(ScalarType.BFloat16); break;
            }

            var path = SaveDict(file);
            var target = new TinyBlock(7);
            var before = Snapshot(target);

            var e = FluentActions.Invoking(() => SafetensorsStateDict.LoadModule(target, path))
                .Should().Throw<StateDictMismatchException>().Which;
            e.FilePath.Should().Be(path);
            e.Problems.Should().ContainSingle().Which.Kind.Should().Be(kind);
            e.Message.Should().Contain(path).And.Contain("nothing was modified");
            foreach (var m in mentions) e.Message.Should().Contain(m);
            Snapshot(target).Should().BeEquivalentTo(before, "a failed load changes nothing");
        }

        [Fact]
        public void EveryProblemIsReportedTogether()
        {
            using var scope = NewDisposeScope();
            var file = Copy(new TinyBlock(1));
            file.Remove("scale");
            file["fc1.bias"] = ones(4);
            file["extra"] = ones(1);
            var target = new TinyBlock(7);
            var before = Snapshot(target);
            var e = FluentActions.Invoking(() => SafetensorsStateDict.LoadModule(target, SaveDict(file)))
                .Should().Throw<StateDictMismatchException>().Which;
            e.Problems.Select(p => (p.Kind, p.Key)).Should().BeEquivalentTo(new[]
            {
                (StateDictProblemKind.ShapeMismatch, "fc1.bias"), (StateDictProblemKind.MissingKey, "scale"),
                (StateDictProblemKind.UnexpectedKey, "extra"),
            });
            var shape = e.Problems.Single(p => p.Kind == StateDictProblemKind.ShapeMismatch);
            (shape.ExpectedShape, shape.ActualShape).Should().BeEquivalentTo((new long[] { 3 }, new long[] { 4 }));
            e.Message.Should().Contain("3 problem(s)");
            Snapshot(target).Should().BeEquivalentTo(before);
        }

        [Fact]
        public void LenientModeIgnoresAndReportsUnexpectedKeysButNotMissingOnes()
        {
            using var scope = NewDisposeScope();
            var source = new TinyBlock(1);
            var file = Copy(source);
            file["fc3.weight"] = ones(2, 2);
            file["fc3.bias"] = ones(2);
            var path = SaveDict(file);
            var target = new TinyBlock(7);

            var result = SafetensorsStateDict.LoadModule(target, path, new StateDictLoadOptions { Strict = false });
            result.IgnoredKeys.Should().Equal("fc3.bias", "fc3.weight");
            Snapshot(target).Should().BeEquivalentTo(Snapshot(source));

            file.Remove("scale");
            var other = new TinyBlock(8);
            var before = Snapshot(other);
            FluentActions.Invoking(() => SafetensorsStateDict.LoadModule(other, SaveDict(file, "missing.safetensors"),
                    new StateDictLoadOptions { Strict = false }))
                .Should().Throw<StateDictMismatchException>().Which.Problems.Should().ContainSingle(p => p.Kind == StateDictProblemKind.MissingKey);
            Snapshot(other).Should().BeEquivalentTo(before);
        }

        [Fact]
        public void ConvertDTypeLoadsABFloat16FileIntoAFloat32Module()
        {
            using var scope = NewDisposeScope();
            var source = Copy(new TinyBlock(1));
            var bf16 = source.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.BFloat16));
            var path = SaveDict(bf16);
            var target = new TinyBlock(7);
            SafetensorsStateDict.LoadModule(target, path, new StateDictLoadOptions { ConvertDType = true });
            foreach (var (key, value) in target.state_dict())
            {
                value.dtype.Should().Be(ScalarType.Float32, key);
                Bytes.Of(value).Should().Equal(Bytes.Of(bf16[key].to(ScalarType.Float32)), key);
            }
        }

        [Fact]
        public void ACorruptOrWrongFileLeavesTheModuleBitIdentical()
        {
            using var scope = NewDisposeScope();
            var path = SaveDict(Copy(new TinyBlock(1)));
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^4]);
            var target = new TinyBlock(7);
            var before = Snapshot(target);
            FluentActions.Invoking(() => SafetensorsStateDict.LoadModule(target, path)).Should().Throw<SafetensorsFormatException>();
            FluentActions.Invoking(() => SafetensorsStateDict.LoadModule(target, _folder.File("absent.safetensors"))).Should().Throw<FileNotFoundException>();
            FluentActions.Invoking(() => SafetensorsStateDict.LoadModule(target, SaveDict(Copy(new TinyBlock(1)), "ok.safetensors"),
                    new StateDictLoadOptions { Prefix = "model.layers.9." }))
                .Should().Throw<StateDictMismatchException>().Which.Problems.Should().HaveCount(5).And.OnlyContain(p => p.Kind == StateDictProblemKind.MissingKey);
            Snapshot(target).Should().BeEquivalentTo(before);
        }

        [Fact]
        public void IntegerStateCannotBeSavedAndTheWriterNamesIt()
        {
            using var scope = NewDisposeScope();
            var norm = nn.BatchNorm1d(3);
            FluentActions.Invoking(() => SafetensorsStateDict.SaveModule(norm, _folder.File("bn.safetensors")))
                .Should().Throw<ArgumentException>().WithMessage("*'num_batches_tracked' has dtype Int64*");
            _folder.Entries().Should().BeEmpty();
        }

        [Fact]
        public void PlainStateDictsSaveWithAPrefixAndLoadWithout()
        {
            using var scope = NewDisposeScope();
            var path = _folder.File("plain.safetensors");
            SafetensorsStateDict.Save(path, new Dictionary<string, Tensor> { ["gate.weight"] = ones(2, 3) }, prefix: "model.layers.1.mlp.");
            var all = SafetensorsStateDict.Load(path);
            all.Keys.Should().Equal("model.layers.1.mlp.gate.weight");
            all.Values.Single().shape.Should().Equal(2, 3);
        }
    }
}
