using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Models
{
    /// <summary>
    /// <see cref="HfCheckpoint.Save(string, HfMoeConfig, IReadOnlyDictionary{int, MoeLayer}, HfSaveOptions?)"/> with
    /// <see cref="HfSaveOptions.OtherTensors"/> and <see cref="HfSaveOptions.ExtraFiles"/>: a whole model folder in one
    /// write, the tensors in state-dict order, the refusals before anything is written.
    /// </summary>
    public class HfWholeModelSaveTests
    {
        // qwen3_moe: layer 1 MoE; layers 0, 2 and 3 dense (decoder_sparse_step 2, mlp_only_layers [3]), norms everywhere.
        private static string Source => HfModelFixture.Load("qwen3_moe").Folder;

        private static readonly Dictionary<string, byte[]> Files = new()
        {
            ["generation_config.json"] = Encoding.UTF8.GetBytes("{\"eos_token_id\": [2, 3]}\n"),
            ["tokenizer.json"] = Encoding.UTF8.GetBytes("{\"model\": {\"type\": \"BPE\"}}"),
        };

        [Fact]
        public void TheMoeBlocksAndTheOtherTensorsMakeTheWholeFolderBitForBit()
        {
            using var temp = new TempFolder();
            var saved = temp.File("saved");
            using var original = SafetensorsCheckpoint.Open(Source);
            using (var checkpoint = HfCheckpoint.Open(Source))
            {
                using var scope = NewDisposeScope();
                var layers = checkpoint.MoeLayerIndices.ToDictionary(i => i, i => checkpoint.LoadLayer(i));
                var blockPrefixes = layers.Keys.Select(i => checkpoint.Config.LayerPrefix(i) + "mlp.").ToArray();
                // The rest of the model in reverse key order: the save must put them back in layer order.
                var others = original.Keys.Where(k => !blockPrefixes.Any(k.StartsWith)).OrderByDescending(k => k, StringComparer.Ordinal)
                    .Select(k => SafetensorsTensorSource.Of(k, original.Read(k))).ToList();
                others.Should().NotBeEmpty();
                HfCheckpoint.Save(saved, checkpoint.Config, layers,
                    new HfSaveOptions { DType = ScalarType.Float32, MaxShardBytes = 2048, OtherTensors = others, ExtraFiles = Files });
            }

            using var written = SafetensorsCheckpoint.Open(saved);
            written.Keys.Should().BeEquivalentTo(original.Keys);
            foreach (var key in original.Keys)
            {
                using var scope = NewDisposeScope();
                var (a, b) = (written.Read(key), original.Read(key));
                a.dtype.Should().Be(b.dtype, key);
                a.equal(b).all().item<bool>().Should().BeTrue($"'{key}' is written as read");
            }
            foreach (var (name, bytes) in Files) File.ReadAllBytes(Path.Combine(saved, name)).Should().Equal(bytes);
            File.ReadAllText(Path.Combine(saved, "config.json")).Should().Be(File.ReadAllText(Path.Combine(Source, "config.json")));

            // State-dict order: a layer's tensors never lie in an earlier shard than the previous layer's.
            int Shard(string key) => int.Parse(Path.GetFileName(written.GetInfo(key).FilePath).Substring(6, 5), System.Globalization.CultureInfo.InvariantCulture);
            var byLayer = written.Keys.GroupBy(k => int.Parse(k.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture)).OrderBy(g => g.Key).ToList();
            byLayer.Should().HaveCountGreaterThan(2);
            for (var i = 1; i < byLayer.Count; i++)
                byLayer[i].Min(Shard).Should().BeGreaterThanOrEqualTo(byLayer[i - 1].Max(Shard), $"layer {byLayer[i].Key} follows layer {byLayer[i - 1].Key}");
        }

        [Fact]
        public void AnOtherTensorUnderABlocksKeyOrGivenTwiceIsRefusedByName()
        {
            using var temp = new TempFolder();
            using var checkpoint = HfCheckpoint.Open(Source);
            using var scope = NewDisposeScope();
            var layers = checkpoint.MoeLayerIndices.ToDictionary(i => i, i => checkpoint.LoadLayer(i));
            var blockKey = checkpoint.Config.LayerPrefix(1) + "mlp.gate.weight";
            Save(temp.File("a"), checkpoint, layers, new HfSaveOptions { OtherTensors = new[] { SafetensorsTensorSource.Of(blockKey, zeros(8, 16)) } })
                .Should().Throw<ArgumentException>().WithMessage($"*'{blockKey}'*a MoE block also writes it*");
            var norm = SafetensorsTensorSource.Of("model.norm.weight", ones(16));
            Save(temp.File("b"), checkpoint, layers, new HfSaveOptions { OtherTensors = new[] { norm, norm } })
                .Should().Throw<ArgumentException>().WithMessage("*'model.norm.weight'*given twice*");
            temp.Entries().Should().BeEmpty("nothing is written when the save is refused");
        }

        [Theory]
        [InlineData("config.json")]
        [InlineData("model.safetensors")]
        [InlineData("model-00001-of-00002.safetensors")]
        [InlineData("model.safetensors.index.json")]
        public void ExtraFilesCannotReplaceWhatTheSaveWrites(string name)
        {
            using var temp = new TempFolder();
            var saved = temp.File("saved");
            Directory.CreateDirectory(saved);
            File.WriteAllText(Path.Combine(saved, "config.json"), "previous");
            using var checkpoint = HfCheckpoint.Open(Source);
            using var scope = NewDisposeScope();
            var layers = checkpoint.MoeLayerIndices.ToDictionary(i => i, i => checkpoint.LoadLayer(i));
            Save(saved, checkpoint, layers, new HfSaveOptions { ExtraFiles = new Dictionary<string, byte[]> { [name] = new byte[] { 1 } } })
                .Should().Throw<ArgumentException>().WithMessage($"*'{name}' is written by the save itself*");
            File.ReadAllText(Path.Combine(saved, "config.json")).Should().Be("previous", "the previous folder is left as it was");
        }

        private static Action Save(string folder, HfCheckpoint checkpoint, Dictionary<int, MoeLayer> layers, HfSaveOptions options) =>
            () => HfCheckpoint.Save(folder, checkpoint.Config, layers, options);
    }
}
