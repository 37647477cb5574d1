using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    /// <summary>SafetensorsCheckpoint.Write: Hugging Face's shard split, names and index, and the folder-level atomic replace.</summary>
    public class CheckpointWriteTests : IDisposable
    {
        private readonly TempFolder _folder = new();

        public void Dispose() => _folder.Dispose();

        private string Target => Path.Combine(_folder.Path, "ckpt");

        /// <summary>A float32 tensor of n elements (4n bytes) whose values identify it.</summary>
        private static SafetensorsTensorSource Floats(string key, long n, float value) => SafetensorsTensorSource.Of(key, full(n, value));

        /// <summary>Every file under the folder with its bytes, for "exactly as it was" checks.</summary>
        private static Dictionary<string, byte[]> Snapshot(string folder)
            => Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes);

        [Fact]
        public void TheSplitIsHuggingFacesGreedyPackingInTheGivenOrder()
        {
            using var scope = NewDisposeScope();
            // huggingface_hub's docstring example: sizes [6, 6, 2, 6, 2, 2] with a limit of 10 give [6], [6+2], [6+2+2].
            var sizes = new[] { 6, 6, 2, 6, 2, 2 };
            var sources = sizes.Select((s, i) => Floats($"t{i}", s, i)).ToList();
            ShardPlan.Split(sources, 40).Select(shard => shard.Select(t => t.Key)).Should().BeEquivalentTo(
                new[] { new[] { "t0" }, new[] { "t1", "t2" }, new[] { "t3", "t4", "t5" } }, o => o.WithStrictOrdering());
        }

        [Fact]
        public void ATensorLargerThanTheLimitGetsItsOwnShardAheadOfTheOneBeingFilled()
        {
            using var scope = NewDisposeScope();
            var sources = new[] { Floats("a", 2, 0), Floats("huge", 20, 1), Floats("c", 2, 2) };
            ShardPlan.Split(sources, 40).Select(shard => shard.Select(t => t.Key)).Should().BeEquivalentTo(
                new[] { new[] { "huge" }, new[] { "a", "c" } }, o => o.WithStrictOrdering());
        }

        [Fact]
        public void ShardsAreNamedAsHuggingFaceNamesThem()
        {
            ShardPlan.FileName(0, 1).Should().Be("model.safetensors");
            ShardPlan.FileName(0, 3).Should().Be("model-00001-of-00003.safetensors");
            ShardPlan.FileName(2, 3).Should().Be("model-00003-of-00003.safetensors");
        }

        [Fact]
        public void AShardedWriteHasTheIndexAsTransformersWritesIt()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("z.w", 6, 1), Floats("b.w", 6, 2), Floats("a.w", 2, 3) }, maxShardBytes: 40,
                metadata: new Dictionary<string, string> { ["creator"] = "MoeLayers" },
                extraFiles: new Dictionary<string, byte[]> { ["config.json"] = Encoding.UTF8.GetBytes("{\"model_type\": \"mixtral\"}") });

            Directory.GetFiles(Target).Select(Path.GetFileName).Order(StringComparer.Ordinal).Should().Equal(
                "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json");
            var nl = Environment.NewLine;
            File.ReadAllText(Path.Combine(Target, "model.safetensors.index.json")).Should().Be(
                "{" + nl +
                "  \"metadata\": {" + nl +
                "    \"creator\": \"MoeLayers\"," + nl +
                "    \"total_size\": 56" + nl +
                "  }," + nl +
                "  \"weight_map\": {" + nl +
                "    \"a.w\": \"model-00002-of-00002.safetensors\"," + nl +
                "    \"b.w\": \"model-00002-of-00002.safetensors\"," + nl +
                "    \"z.w\": \"model-00001-of-00002.safetensors\"" + nl +
                "  }" + nl +
                "}\n");
            File.ReadAllText(Path.Combine(Target, "config.json")).Should().Be("{\"model_type\": \"mixtral\"}");

            using var checkpoint = SafetensorsCheckpoint.Open(Target);
            checkpoint.Files.Should().OnlyContain(f => f.Metadata.Count == 1 && f.Metadata["format"] == "pt", "huggingface_hub writes {format: pt} into every shard");
            checkpoint.Metadata.Should().Equal(new Dictionary<string, string> { ["creator"] = "MoeLayers", ["total_size"] = "56" });
            using var z = checkpoint.Read("z.w");
            z.data<float>().ToArray().Should().AllBeEquivalentTo(1f);
        }

        [Fact]
        public void OneShardIsAModelSafetensorsWithoutIndex_TheMetadataInItsHeader()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("w", 3, 1), SafetensorsTensorSource.Of("h", ones(2, dtype: ScalarType.BFloat16)) },
                metadata: new Dictionary<string, string> { ["creator"] = "MoeLayers" });
            Directory.GetFiles(Target).Select(Path.GetFileName).Should().Equal("model.safetensors");
            using var checkpoint = SafetensorsCheckpoint.Open(Target);
            checkpoint.IndexPath.Should().BeNull();
            checkpoint.Metadata.Should().Equal(new Dictionary<string, string> { ["format"] = "pt", ["creator"] = "MoeLayers" });
            checkpoint.GetInfo("h").DType.Should().Be(SafetensorsDType.BF16);
        }

        [Fact]
        public void ARoundTripOfManyTensorsIsBitExact()
        {
            using var scope = NewDisposeScope();
            var tensors = Enumerable.Range(0, 20).ToDictionary(i => $"model.layers.{i}.w", i => randn(i + 1, 5));
            tensors["half"] = randn(7).to(ScalarType.Float16);
            tensors["transposed"] = randn(4, 6).t();
            SafetensorsCheckpoint.Write(Target, tensors.Select(kv => SafetensorsTensorSource.Of(kv.Key, kv.Value)), maxShardBytes: 300);
            using var checkpoint = SafetensorsCheckpoint.Open(Target);
            checkpoint.Files.Count.Should().BeGreaterThan(3);
            checkpoint.Keys.Should().BeEquivalentTo(tensors.Keys);
            foreach (var (key, expected) in tensors)
            {
                using var read = checkpoint.Read(key);
                read.shape.Should().Equal(expected.shape);
                Bytes.Of(read).Should().Equal(Bytes.Of(expected), key);
            }
        }

        [Fact]
        public void LazySourcesAreCreatedOnceEachAndDisposedAfterWriting()
        {
            using var scope = NewDisposeScope();
            var created = new List<Tensor>();
            var sources = Enumerable.Range(0, 4).Select(i => new SafetensorsTensorSource($"t{i}", SafetensorsDType.F32, new long[] { 3 }, () =>
            {
                var t = full(3, (float)i);
                created.Add(t);
                return t;
            }));
            SafetensorsCheckpoint.Write(Target, sources, maxShardBytes: 24);
            created.Should().HaveCount(4);
            created.Should().OnlyContain(t => t.IsInvalid, "the writer disposes each tensor once written");
            using var checkpoint = SafetensorsCheckpoint.Open(Target);
            checkpoint.Files.Should().HaveCount(2);
            using var t3 = checkpoint.Read("t3");
            t3.data<float>().ToArray().Should().Equal(3, 3, 3);
        }

        [Fact]
        public void ReplacingASplitCheckpointWithASmallerOneLeavesNoOldShard()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("a", 6, 1), Floats("b", 6, 2), Floats("c", 6, 3) }, maxShardBytes: 24);
            Directory.GetFiles(Target).Should().HaveCount(4);
            SafetensorsCheckpoint.Write(Target, new[] { Floats("a", 1, 9) });
            Directory.GetFiles(Target).Select(Path.GetFileName).Should().Equal("model.safetensors");
            Directory.GetFileSystemEntries(_folder.Path).Should().Equal(new[] { Target }, "no temporary or old folder is left beside it");
        }

        [Fact]
        public void AFactoryThatThrowsAfterTheFirstShardWasWrittenLeavesTheFolderExactlyAsItWas()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("old", 5, 1) }, extraFiles: new Dictionary<string, byte[]> { ["config.json"] = new byte[] { 1, 2 } });
            var before = Snapshot(Target);

            var sawFirstShard = false;
            var sources = new[]
            {
                Floats("a", 6, 1),
                new SafetensorsTensorSource("b", SafetensorsDType.F32, new long[] { 6 }, () =>
                {
                    // By now shard 1 is complete in the temporary sibling folder.
                    var temporary = Directory.GetDirectories(_folder.Path, ".ckpt.*.tmp").Single();
                    sawFirstShard = File.Exists(Path.Combine(temporary, "model-00001-of-00002.safetensors"));
                    throw new InvalidOperationException("disk on fire (simulated)");
                }),
            };
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, sources, maxShardBytes: 24))
                .Should().Throw<InvalidOperationException>().WithMessage("*simulated*");

            sawFirstShard.Should().BeTrue();
            Snapshot(Target).Should().BeEquivalentTo(before);
            Directory.GetFileSystemEntries(_folder.Path).Should().Equal(new[] { Target }, "the temporary folder is removed");
        }

        [Fact]
        public void ATensorThatBreaksItsDeclarationFailsTheWriteWithItsKey()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("old", 5, 1) });
            var before = Snapshot(Target);
            var sources = new[] { Floats("a", 6, 1), new SafetensorsTensorSource("b", SafetensorsDType.F32, new long[] { 6 }, () => ones(2, 3)) };
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, sources, maxShardBytes: 24))
                .Should().Throw<InvalidOperationException>()
                .WithMessage($"cannot write '{Path.Combine(Target, "model-00002-of-00002.safetensors")}': tensor 'b' was declared Float32 [6] but its factory returned Float32 [2, 3].");
            Snapshot(Target).Should().BeEquivalentTo(before);
            Directory.GetFileSystemEntries(_folder.Path).Should().HaveCount(1);
        }

        [Fact]
        public void AnEnumerationThatThrowsTouchesNothing()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("old", 5, 1) });
            var before = Snapshot(Target);
            IEnumerable<SafetensorsTensorSource> Broken()
            {
                yield return Floats("a", 6, 1);
                throw new IOException("enumeration failed (simulated)");
            }

            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, Broken())).Should().Throw<IOException>().WithMessage("*simulated*");
            Snapshot(Target).Should().BeEquivalentTo(before);
            Directory.GetFileSystemEntries(_folder.Path).Should().HaveCount(1);
        }

        [Fact]
        public void AFailureBetweenTheTwoRenamesPutsThePreviousFolderBack()
        {
            using var scope = NewDisposeScope();
            SafetensorsCheckpoint.Write(Target, new[] { Floats("old", 5, 1) });
            var before = Snapshot(Target);
            FluentActions.Invoking(() => CheckpointFolderWriter.Write(Target, new[] { Floats("new", 2, 2) }, SafetensorsCheckpoint.DefaultMaxShardBytes, null, null,
                    aside =>
                    {
                        Directory.Exists(Target).Should().BeFalse("the old folder was moved aside");
                        Directory.Exists(aside).Should().BeTrue();
                        throw new IOException("rename failed (simulated)");
                    }))
                .Should().Throw<IOException>().WithMessage("*simulated*");
            Snapshot(Target).Should().BeEquivalentTo(before);
            Directory.GetFileSystemEntries(_folder.Path).Should().Equal(new[] { Target });
        }

        [Fact]
        public void AFolderThatHoldsNoCheckpointIsNotReplaced()
        {
            using var scope = NewDisposeScope();
            Directory.CreateDirectory(Target);
            File.WriteAllText(Path.Combine(Target, "notes.txt"), "mine");
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, new[] { Floats("w", 1, 1) })).Should().Throw<IOException>()
                .WithMessage("*it exists and holds no model.safetensors or model.safetensors.index.json (1 entry: notes.txt); the whole folder would be replaced*");
            File.ReadAllText(Path.Combine(Target, "notes.txt")).Should().Be("mine");

            var empty = Path.Combine(_folder.Path, "empty");
            Directory.CreateDirectory(empty);
            SafetensorsCheckpoint.Write(empty, new[] { Floats("w", 1, 1) });
            File.Exists(Path.Combine(empty, "model.safetensors")).Should().BeTrue();
        }

        [Fact]
        public void TargetsThatAreFilesOrLackAParentAreRefused()
        {
            using var scope = NewDisposeScope();
            var file = _folder.File("x");
            File.WriteAllText(file, "x");
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(file, new[] { Floats("w", 1, 1) })).Should().Throw<IOException>().WithMessage("*a file has that name*");
            var orphan = Path.Combine(_folder.Path, "no-parent", "ckpt");
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(orphan, new[] { Floats("w", 1, 1) })).Should().Throw<DirectoryNotFoundException>()
                .WithMessage("*its parent folder*no-parent' does not exist*");
        }

        [Theory]
        [InlineData("../escape.json", "path separator")]
        [InlineData("sub/config.json", "path separator")]
        [InlineData("..", "names a folder")]
        [InlineData("model.safetensors", "one of the checkpoint's own files")]
        [InlineData("model.safetensors.index.json", "one of the checkpoint's own files")]
        [InlineData("model-00001-of-00002.safetensors", "one of the checkpoint's own files")]
        public void ExtraFileNamesMustBePlainAndDistinctFromTheCheckpointsFiles(string name, string why)
        {
            using var scope = NewDisposeScope();
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, new[] { Floats("a", 6, 1), Floats("b", 6, 1) }, maxShardBytes: 24,
                    extraFiles: new Dictionary<string, byte[]> { [name] = new byte[1] }))
                .Should().Throw<ArgumentException>().WithMessage($"*'{name}'*{why}*");
            Directory.GetFileSystemEntries(_folder.Path).Should().BeEmpty();
        }

        [Fact]
        public void BadKeysAndMetadataAreRefusedBeforeTheDiskIsTouched()
        {
            using var scope = NewDisposeScope();
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, new[] { Floats("a", 1, 1), Floats("a", 2, 1) }))
                .Should().Throw<ArgumentException>().WithMessage($"cannot write checkpoint folder '{Target}': tensor 'a' is given twice.*");
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, new[] { Floats("__metadata__", 1, 1) }))
                .Should().Throw<ArgumentException>().WithMessage("*reserved for the metadata map*");
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, new[] { Floats("a", 1, 1) }, metadata: new Dictionary<string, string> { ["total_size"] = "1" }))
                .Should().Throw<ArgumentException>().WithMessage("*'total_size' is reserved*");
            FluentActions.Invoking(() => SafetensorsCheckpoint.Write(Target, new[] { Floats("a", 1, 1) }, maxShardBytes: 0))
                .Should().Throw<ArgumentOutOfRangeException>();
            Directory.GetFileSystemEntries(_folder.Path).Should().BeEmpty();
        }
    }
}
