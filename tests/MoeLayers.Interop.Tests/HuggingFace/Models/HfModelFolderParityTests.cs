using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Models
{
    /// <summary>
    /// Every model folder of tests/fixtures/hf-models opened from its folder path through <see cref="HfCheckpoint"/>:
    /// the schedule matches the transcribed decoder layers, each MoE layer computed by <see cref="MoeLayer"/> in float32
    /// matches the published forward (output within 1e-5 · max(1, |y|), logits and weights within 1e-5, the same experts
    /// token by token), dense layers are refused naming their field, and a save reproduces the published tensors (a quantized folder:
    /// saved dequantized, it loads back to the same layers).
    /// </summary>
    public class HfModelFolderParityTests(ITestOutputHelper log)
    {
        private const double Tolerance = 1e-5;

        public static IEnumerable<object[]> Folders() => HfModelFixture.Names().Select(n => new object[] { n });

        [Theory]
        [MemberData(nameof(Folders))]
        public void TheScheduleIsThePublishedOne(string name)
        {
            var fixture = HfModelFixture.Load(name);
            using var checkpoint = HfCheckpoint.Open(fixture.Folder);
            checkpoint.MoeLayerIndices.Should().Equal(fixture.MoeLayers, $"{name}: the MoE layers of the published decoder");
            checkpoint.Config.ModelType.Should().Be(fixture.Metadata["family"]);
            foreach (var dense in fixture.DenseLayers)
            {
                checkpoint.Config.IsMoeLayer(dense).Should().BeFalse();
                var act = () => checkpoint.LoadLayer(dense);
                act.Should().Throw<System.ArgumentException>().WithMessage($"*layer {dense}*is dense, not MoE*{checkpoint.Config.DenseReason(dense)}*");
            }
        }

        [Theory]
        [MemberData(nameof(Folders))]
        public void EveryMoeLayerMatchesThePublishedForwardInFloat32(string name)
        {
            var fixture = HfModelFixture.Load(name);
            using var checkpoint = HfCheckpoint.Open(fixture.Folder);
            foreach (var index in fixture.MoeLayers)
            {
                using var scope = NewDisposeScope();
                using var layer = checkpoint.LoadLayer(index, new HfLoadOptions { DType = ScalarType.Float32, CheckFinite = true });
                layer.eval();
                var (input, output, logits, indices, weights) = fixture.Reference(index);
                using var noGrad = no_grad();
                var result = layer.Run(input);

                var order = result.Routing.ExpertIndices.sort(-1);
                order.Values.data<long>().ToArray().Should().Equal(indices.data<long>().ToArray(), $"{name} layer {index}: the same experts, token by token");
                Worst(result.Routing.Logits, logits).Should().BeLessThan(Tolerance, $"{name} layer {index}: router logits");
                Worst(result.Routing.CombineWeights.gather(1, order.Indices), weights).Should().BeLessThan(Tolerance, $"{name} layer {index}: routing weights");
                var scale = output.abs().max().item<float>();
                log.WriteLine($"{name} layer {index}: |Δoutput| {Worst(result.Output, output):E2} (max |y| {scale:F3}), |Δlogits| {Worst(result.Routing.Logits, logits):E2}, |Δweights| {Worst(result.Routing.CombineWeights.gather(1, order.Indices), weights):E2}");
                Worst(result.Output, output).Should().BeLessThan(Tolerance * System.Math.Max(1.0, scale), $"{name} layer {index}: block output");
                scale.Should().BeGreaterThan(0.05f, "outputs large enough for the tolerance to mean something");
            }
        }

        [Theory]
        [MemberData(nameof(Folders))]
        public void SavingTheLoadedLayersReproducesThePublishedTensors(string name)
        {
            var fixture = HfModelFixture.Load(name);
            using var temp = new TempFolder();
            var saved = Path.Combine(temp.Path, "saved");
            using (var checkpoint = HfCheckpoint.Open(fixture.Folder))
            {
                using var scope = NewDisposeScope();
                var layers = fixture.MoeLayers.ToDictionary(i => i, i => checkpoint.LoadLayer(i));
                var dtype = layers.Values.First().parameters().Select(p => p.dtype).FirstOrDefault(d => d != ScalarType.Float32, ScalarType.Float32);
                HfCheckpoint.Save(saved, checkpoint.Config, layers, new HfSaveOptions { Layout = fixture.Layout, DType = dtype, MaxShardBytes = 4096 });
                foreach (var layer in layers.Values) layer.Dispose();
            }

            using var original = HfCheckpoint.Open(fixture.Folder);
            using var written = HfCheckpoint.Open(saved);
            var config = File.ReadAllText(Path.Combine(saved, "config.json"));
            if (original.Config.QuantizationMethod.Length == 0) config.Should().Be(File.ReadAllText(Path.Combine(fixture.Folder, "config.json")));
            else
            {
                config.Should().NotContain("quantization_config", "the weights are saved dequantized, so the config must not ask for quantized layers");
                written.Config.QuantizationMethod.Should().BeEmpty();
            }
            var blockKeys = PublishedBlockKeys(fixture, original);
            written.TensorKeys.Should().BeEquivalentTo(blockKeys, $"{name}: the saved folder holds exactly the MoE blocks");
            if (original.Config.QuantizationMethod.Length > 0)
            {
                SavedUnquantizedLoadsBackTheSameLayers(fixture, original, saved);
                return;
            }
            foreach (var key in blockKeys)
            {
                using var scope = NewDisposeScope();
                var (a, b) = (original.ReadTensor(key), written.ReadTensor(key));
                b.dtype.Should().Be(a.dtype, key);
                b.shape.Should().Equal(a.shape, key);
                Bytes.Of(b).SequenceEqual(Bytes.Of(a)).Should().BeTrue($"{name}: '{key}' is written bit for bit");
            }
        }

        /// <summary>
        /// A quantized folder is saved dequantized (nothing is re-quantized): every tensor under its plain name in the
        /// layers' floating dtype, no weight_scale_inv, and each MoE layer loaded back from the saved folder holds the
        /// same values bit for bit as the layer loaded from the published one (both in the stored dtype, bfloat16).
        /// </summary>
        private static void SavedUnquantizedLoadsBackTheSameLayers(HfModelFixture fixture, HfCheckpoint original, string saved)
        {
            using (var raw = SafetensorsCheckpoint.Open(saved))
            {
                raw.Keys.Should().NotContain(k => k.EndsWith("_scale_inv", System.StringComparison.Ordinal), $"{fixture.Name}: saved unquantized");
                foreach (var key in raw.Keys)
                    raw.GetInfo(key).DType.IsFloat8().Should().BeFalse($"{fixture.Name}: '{key}' is saved dequantized, not as float8");
            }
            using var written = HfCheckpoint.Open(saved);
            foreach (var index in fixture.MoeLayers)
            {
                using var scope = NewDisposeScope();
                using var published = original.LoadLayer(index);
                using var reloaded = written.LoadLayer(index);
                var (expected, actual) = (published.state_dict(), reloaded.state_dict());
                actual.Keys.Should().BeEquivalentTo(expected.Keys);
                foreach (var (key, value) in expected)
                {
                    actual[key].dtype.Should().Be(value.dtype, key);
                    Bytes.Of(actual[key]).SequenceEqual(Bytes.Of(value)).Should().BeTrue($"{fixture.Name} layer {index}: '{key}' loads back bit for bit");
                }
            }
        }

        /// <summary>The keys under each MoE layer's block (the family's layer prefix and block names), not the layers' norms.</summary>
        private static string[] PublishedBlockKeys(HfModelFixture fixture, HfCheckpoint checkpoint)
        {
            var blocks = checkpoint.Config.Family.Layout(checkpoint.Config).Experts.Select(c => c.BlockName).Distinct().ToArray();
            var prefixes = fixture.MoeLayers.SelectMany(i => blocks.Select(b => checkpoint.Config.LayerPrefix(i) + b)).ToArray();
            return checkpoint.TensorKeys.Where(k => prefixes.Any(p => k.StartsWith(p, System.StringComparison.Ordinal))
                && !k.EndsWith("layernorm.weight", System.StringComparison.Ordinal)).ToArray();
        }

        private static double Worst(Tensor a, Tensor b) => a.to(ScalarType.Float32).sub(b).abs().max().item<float>();
    }
}
