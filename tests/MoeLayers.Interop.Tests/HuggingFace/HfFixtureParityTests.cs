using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace
{
    /// <summary>
    /// The committed fixtures against <see cref="HfMoeBlockTestOracle"/>: outputs and router logits to 1e-5 (float32),
    /// chosen experts exactly. This proves the fixtures, the reader and the published layouts before any MoeLayers layer
    /// is mapped onto them.
    /// </summary>
    public class HfFixtureParityTests
    {
        private const double Tolerance = 1e-5;

        public static IEnumerable<object[]> Families() => Fixtures.Families.Select(f => new object[] { f });

        private static double WorstDifference(Tensor a, Tensor b) => a.sub(b).abs().max().item<float>();

        private static bool Identical(Tensor a, Tensor b)
            => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && Bytes.Of(a).SequenceEqual(Bytes.Of(b));

        [Theory]
        [MemberData(nameof(Families))]
        public void OracleReproducesTheFixture(string family)
        {
            using var scope = NewDisposeScope();
            var fixture = HfFixture.Load(family);
            var result = HfMoeBlockTestOracle.Forward(fixture.Config, fixture.Block, fixture.Input);

            var expectedIndices = fixture.TopkIndices.to(ScalarType.Int64);
            Identical(expectedIndices.to(ScalarType.Float32), fixture.TopkIndices).Should().BeTrue("indices are stored as exact integers");
            result.TopkIndices.data<long>().ToArray().Should().Equal(expectedIndices.data<long>().ToArray(), $"{family}: the same experts, token by token");

            result.RouterLogits.shape.Should().Equal(fixture.RouterLogits.shape);
            WorstDifference(result.RouterLogits, fixture.RouterLogits).Should().BeLessThan(Tolerance, $"{family} router logits");
            WorstDifference(result.TopkWeights, fixture.TopkWeights).Should().BeLessThan(Tolerance, $"{family} routing weights");
            result.Output.shape.Should().Equal(fixture.Output.shape);
            WorstDifference(result.Output, fixture.Output).Should().BeLessThan(Tolerance, $"{family} block output");
            fixture.Output.abs().max().item<float>().Should().BeGreaterThan(0.1f, "outputs are large enough for 1e-5 to mean something");
        }

        [Theory]
        [MemberData(nameof(Families))]
        public void WeightsUseThePublishedNamesAndShapesAndLoadStrictlyUnderThePrefix(string family)
        {
            using var scope = NewDisposeScope();
            var config = HfConfig.Read(Fixtures.Config(family));
            var expected = PublishedLayout(family, config);
            var prefix = Fixtures.Prefix(family);

            using (var file = SafetensorsFile.Open(Fixtures.Weights(family)))
            {
                file.Metadata.Should().Contain("format", "pt");
                var block = file.KeysUnder(prefix).Select(k => k[prefix.Length..]);
                block.Should().BeEquivalentTo(expected.Keys, $"{family} keys under '{prefix}'");
                foreach (var (key, shape) in expected) file.GetInfo(prefix + key).Shape.Should().Equal(shape, key);
                file.Keys.Except(file.KeysUnder(prefix)).Should().HaveCount(2, "the decoder layer's two norms sit beside the block");
            }

            // The strict loader accepts the block under its prefix (the norms are outside it) and converts BF16/F16 to F32.
            var targets = expected.ToDictionary(kv => kv.Key, kv => zeros(kv.Value));
            var result = SafetensorsStateDict.LoadInto(targets, Fixtures.Weights(family),
                new StateDictLoadOptions { Prefix = prefix, Strict = true, ConvertDType = true });
            result.LoadedKeys.Should().HaveCount(expected.Count);
            var reference = SafetensorsStateDict.Load(Fixtures.Weights(family), prefix);
            foreach (var (key, t) in targets) Identical(t, reference[key].to(ScalarType.Float32)).Should().BeTrue(key);

            // One level up, the norms are under the prefix too: strict refuses them by name, lenient skips them.
            var layer = string.Join('.', prefix.Split('.').Take(3)) + ".";                    // "model.layers.N."
            var blockName = prefix[layer.Length..];
            var nested = expected.ToDictionary(kv => blockName + kv.Key, kv => zeros(kv.Value));
            var e = FluentActions.Invoking(() => SafetensorsStateDict.LoadInto(nested, Fixtures.Weights(family),
                    new StateDictLoadOptions { Prefix = layer, ConvertDType = true }))
                .Should().Throw<StateDictMismatchException>().Which;
            e.Problems.Select(p => p.Key).Should().BeEquivalentTo("input_layernorm.weight", "post_attention_layernorm.weight");
            SafetensorsStateDict.LoadInto(nested, Fixtures.Weights(family), new StateDictLoadOptions { Prefix = layer, Strict = false, ConvertDType = true })
                .IgnoredKeys.Should().BeEquivalentTo(layer + "input_layernorm.weight", layer + "post_attention_layernorm.weight");
        }

        [Fact]
        public void FusedV5TensorsAreThePerExpertOnesStackedGateThenUp()
        {
            using var scope = NewDisposeScope();
            var perExpert = HfFixture.Load("mixtral");
            var fused = HfFixture.Load("mixtral_fused");
            var (gate, up, down) = HfMoeBlockTestOracle.StackedExperts(perExpert.Config, perExpert.Block);
            var gateUp = fused.Block["experts.gate_up_proj"];
            gateUp.shape.Should().Equal(8, 16, 16);
            Identical(gateUp, cat(new[] { gate, up }, 1)).Should().BeTrue("gate_up_proj = cat(stack(w1), stack(w3)) on dim 1");
            Identical(fused.Block["experts.down_proj"], down).Should().BeTrue("down_proj = stack(w2)");
            Identical(fused.Block["gate.weight"], perExpert.Block["gate.weight"]).Should().BeTrue();
            WorstDifference(fused.Output, perExpert.Output).Should().BeLessThan(1e-6, "one block, two layouts");
        }

        [Fact]
        public void ExportForPythonCheck()
        {
            // Writes, for every fixture, the whole file read and written back, and the block alone loaded with its prefix and
            // saved under it; MOELAYERS_INTEROP_EXPORT_DIR keeps them for scripts/interop/make_hf_fixtures.py --check-export.
            using var scope = NewDisposeScope();
            var keep = Environment.GetEnvironmentVariable("MOELAYERS_INTEROP_EXPORT_DIR");
            using var temp = new TempFolder();
            var folder = string.IsNullOrEmpty(keep) ? temp.Path : Directory.CreateDirectory(keep).FullName;
            foreach (var family in Fixtures.Families)
            {
                var prefix = Fixtures.Prefix(family);
                var whole = Path.Combine(folder, family + ".safetensors");
                using (var source = SafetensorsFile.Open(Fixtures.Weights(family)))
                    SafetensorsWriter.Write(whole, source.ReadAll(), source.Metadata);
                File.ReadAllBytes(whole).Should().Equal(File.ReadAllBytes(Fixtures.Weights(family)), family);

                var block = Path.Combine(folder, family + ".block.safetensors");
                SafetensorsStateDict.Save(block, SafetensorsStateDict.Load(Fixtures.Weights(family), prefix), prefix,
                    new Dictionary<string, string> { ["format"] = "pt" });
                File.WriteAllText(Path.Combine(folder, family + ".prefix"), prefix);
                using var written = SafetensorsFile.Open(block);
                using var original = SafetensorsFile.Open(Fixtures.Weights(family));
                written.Keys.Should().Equal(original.KeysUnder(prefix));
                foreach (var key in written.Keys)
                {
                    written.GetInfo(key).DType.Should().Be(original.GetInfo(key).DType, key);
                    Bytes.Of(written.Read(key)).Should().Equal(Bytes.Of(original.Read(key)), key);
                }
            }
        }

        /// <summary>Key (relative to the block prefix) → shape, from the published modeling code and the config.</summary>
        private static Dictionary<string, long[]> PublishedLayout(string family, HfConfig config)
        {
            long d = config.Int("hidden_size"), e = config.RoutedExperts, h = config.ExpertWidth;
            var layout = new Dictionary<string, long[]> { ["gate.weight"] = new[] { e, d } };
            if (family == "mixtral_fused")
            {
                layout["experts.gate_up_proj"] = new[] { e, 2 * h, d };
                layout["experts.down_proj"] = new[] { e, d, h };
                return layout;
            }

            var (g, u, dn) = family == "mixtral" ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
            for (var i = 0; i < e; i++)
            {
                layout[$"experts.{i}.{g}.weight"] = new[] { h, d };
                layout[$"experts.{i}.{u}.weight"] = new[] { h, d };
                layout[$"experts.{i}.{dn}.weight"] = new[] { d, h };
            }

            if (family == "qwen2_moe")
            {
                long s = config.Int("shared_expert_intermediate_size");
                layout["shared_expert.gate_proj.weight"] = new[] { s, d };
                layout["shared_expert.up_proj.weight"] = new[] { s, d };
                layout["shared_expert.down_proj.weight"] = new[] { d, s };
                layout["shared_expert_gate.weight"] = new[] { 1, d };
            }
            else if (family == "deepseek_v3")
            {
                var s = h * config.Int("n_shared_experts");
                layout["gate.e_score_correction_bias"] = new[] { e };
                layout["shared_experts.gate_proj.weight"] = new[] { s, d };
                layout["shared_experts.up_proj.weight"] = new[] { s, d };
                layout["shared_experts.down_proj.weight"] = new[] { d, s };
            }

            return layout;
        }
    }
}
