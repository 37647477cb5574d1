using System.IO;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Models
{
    /// <summary>
    /// The shipped Mixtral folder is the done-check: two shards with layer 1's experts split across them. It
    /// loads from the folder path, from its index path and layer by layer, and the split is really there.
    /// </summary>
    public class HfShardedFolderTests
    {
        private static string Folder => Path.Combine(System.AppContext.BaseDirectory, "fixtures", "hf-models", "mixtral");

        [Fact]
        public void TheMixtralFixtureSplitsLayerOnesExpertsAcrossItsTwoShards()
        {
            using var checkpoint = SafetensorsCheckpoint.Open(Folder);
            checkpoint.Files.Should().HaveCount(2);
            var experts = Enumerable.Range(0, 8).Select(e => checkpoint.GetInfo($"model.layers.1.block_sparse_moe.experts.{e}.w1.weight").FilePath).ToArray();
            experts.Distinct().Should().HaveCount(2, "layer 1's experts straddle the two shards");
        }

        [Theory]
        [InlineData("")]
        [InlineData("model.safetensors.index.json")]
        public void TheStraddlingLayerLoadsFromTheFolderOrItsIndex(string file)
        {
            using var scope = NewDisposeScope();
            using var checkpoint = HfCheckpoint.Open(file == "" ? Folder : Path.Combine(Folder, file));
            using var layer = checkpoint.LoadLayer(1, new HfLoadOptions { DType = ScalarType.Float32 });
            using var reference = SafetensorsFile.Open(Path.Combine(Folder, "reference.safetensors"));
            layer.eval();
            using var noGrad = no_grad();
            var output = layer.Run(reference.Read("layers.1.input")).Output;
            output.sub(reference.Read("layers.1.output")).abs().max().item<float>().Should().BeLessThan(1e-5f);
        }

        [Fact]
        public void AWrongPathSaysWhatWasExpectedThere()
        {
            var act = () => HfCheckpoint.Open(Path.Combine(Folder, "no-such-folder"));
            act.Should().Throw<FileNotFoundException>().WithMessage("*expected a model folder*");
        }
    }
}
