using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests
{
    /// <summary>
    /// The published MoE blocks through MoeLayers itself: config.json → options, the checkpoint's layout → the layer's
    /// parameters, and the layer's forward against the outputs the published modeling code computed.
    /// </summary>
    public class HfMoeBlockTests
    {
        public static IEnumerable<object[]> Families() => Fixtures.Families.Select(f => new object[] { f });

        private static string LayerPrefix(string family) => family == "deepseek_v3" ? "model.layers.3." : "model.layers.0.";

        [Theory]
        [MemberData(nameof(Families))]
        public void TheMoeLayerReproducesThePublishedBlock(string family)
        {
            var config = HfMoeConfig.Read(Fixtures.Config(family));
            var layer = HfMoeBlock.Load(Fixtures.Weights(family), config, LayerPrefix(family));
            layer.eval();
            using var io = SafetensorsFile.Open(Fixtures.Io(family));
            var input = io.Read("input");
            var output = layer.Run(input);

            var difference = (output.Output - io.Read("output")).abs().max().item<float>();
            difference.Should().BeLessThan(1e-5f, $"{family}: output within 1e-5 of the published forward");
            (output.Routing.Logits - io.Read("router_logits")).abs().max().item<float>().Should().BeLessThan(1e-5f, "router logits");

            var expected = io.Read("topk_indices").to(ScalarType.Int64).sort(-1).Values;
            var actual = output.Routing.ExpertIndices.sort(-1).Values;
            actual.data<long>().ToArray().Should().Equal(expected.data<long>().ToArray(), $"{family}: the same experts for every token");

            // The weights of the chosen experts, matched by expert rather than by slot order.
            var expectedWeights = zeros(input.shape[0], config.NumExperts).scatter(1, io.Read("topk_indices").to(ScalarType.Int64), io.Read("topk_weights"));
            var actualWeights = zeros(input.shape[0], config.NumExperts).scatter(1, output.Routing.ExpertIndices, output.Routing.CombineWeights);
            (actualWeights - expectedWeights).abs().max().item<float>().Should().BeLessThan(1e-5f, "routing weights");
        }

        [Theory]
        [InlineData("mixtral", HfArchitecture.Mixtral, 8, 2, 8, true, 0)]
        [InlineData("qwen2_moe", HfArchitecture.Qwen2Moe, 8, 2, 8, false, 1)]
        [InlineData("qwen3_moe", HfArchitecture.Qwen3Moe, 8, 2, 8, true, 0)]
        [InlineData("olmoe", HfArchitecture.Olmoe, 8, 3, 8, false, 0)]
        [InlineData("deepseek_v3", HfArchitecture.DeepseekV3, 16, 4, 8, true, 1)]
        public void ConfigJsonBecomesTheFamilysOptions(string family, HfArchitecture architecture, int experts, int k, int width, bool renormalize, int shared)
        {
            var config = HfMoeConfig.Read(Fixtures.Config(family));
            config.Architecture.Should().Be(architecture);
            var options = config.ToOptions();
            (options.NumExperts, options.TopK, options.HiddenDim, options.RenormalizeWeights, options.SharedExperts)
                .Should().Be((experts, k, width, renormalize, shared));
            options.Activation.Should().Be(ExpertActivation.SwiGlu);
            MoeLayerOptionsValidator.Failures(options).Should().BeEmpty();
            if (architecture == HfArchitecture.DeepseekV3)
            {
                (options.ScoreFunction, options.ExpertGroups, options.TopKGroups, options.GroupScore, options.RoutedScalingFactor, options.BalanceBias)
                    .Should().Be((ScoreFunction.Sigmoid, 4, 2, GroupScore.SumOfTopTwo, 2.5, true));
            }
            if (architecture == HfArchitecture.Qwen2Moe) (options.SharedHiddenDim, options.SharedExpertGate).Should().Be((16, true));
        }

        [Theory]
        [MemberData(nameof(Families))]
        public void SavingReproducesThePublishedTensorsAndRoundTripsBitExactly(string family)
        {
            var config = HfMoeConfig.Read(Fixtures.Config(family));
            var layer = HfMoeBlock.Load(Fixtures.Weights(family), config, LayerPrefix(family));
            using var temp = new TempFolder();
            using var original = SafetensorsFile.Open(Fixtures.Weights(family));
            var layout = family == "mixtral_fused" ? HfExpertLayout.Fused : HfExpertLayout.PerExpert;
            var storage = original.GetInfo(original.Keys.First(k => k.EndsWith("gate.weight"))).DType;
            var path = Path.Combine(temp.Path, "block.safetensors");
            HfMoeBlock.Save(layer, path, config, LayerPrefix(family), layout, storage.ToScalarType());

            using (var written = SafetensorsFile.Open(path))
            {
                var block = original.Keys.Where(k => k.Contains(".mlp.") || k.Contains(".block_sparse_moe.")).ToArray();
                written.Keys.Should().BeEquivalentTo(block, "the same published names");
                foreach (var key in block)
                {
                    var (a, b) = (written.Read(key), original.Read(key));
                    a.dtype.Should().Be(b.dtype, key);
                    a.shape.Should().Equal(b.shape, key);
                    a.to(ScalarType.Float32).allclose(b.to(ScalarType.Float32), 0, 0).Should().BeTrue(key);
                }
            }

            var copy = new MoeLayer(config.ToOptions());
            HfMoeBlock.LoadInto(copy, path, config, LayerPrefix(family)).Should().Be(layout);
            foreach (var (key, value) in layer.state_dict()) copy.state_dict()[key].allclose(value, 0, 0).Should().BeTrue($"{key} round-trips bit-exactly");
        }

        [Fact]
        public void AFloat32ExportRoundTripsATrainedLayerBitExactly()
        {
            var config = HfMoeConfig.Read(Fixtures.Config("deepseek_v3"));
            manual_seed(5);
            var layer = new MoeLayer(config.ToOptions());
            using (no_grad()) ((TorchSharp.Modules.Parameter)layer.state_dict()["experts.w_in"]).add_(randn(16, 16, 8) * 1e-3);
            using var temp = new TempFolder();
            var path = Path.Combine(temp.Path, "trained.safetensors");
            HfMoeBlock.Save(layer, path, config, "model.layers.7.");
            var back = HfMoeBlock.Load(path, config, "model.layers.7.");
            foreach (var (key, value) in layer.state_dict()) back.state_dict()[key].allclose(value, 0, 0).Should().BeTrue(key);
        }

        [Fact]
        public void AWrongShapeOrAMissingKeyIsNamedAndTheLayerIsLeftAsItWas()
        {
            var config = HfMoeConfig.Read(Fixtures.Config("qwen3_moe"));
            var tensors = SafetensorsStateDict.Load(Fixtures.Weights("qwen3_moe"));
            tensors["model.layers.0.mlp.experts.5.up_proj.weight"] = zeros(9, 16);
            tensors.Remove("model.layers.0.mlp.experts.2.down_proj.weight");
            using var temp = new TempFolder();
            var path = Path.Combine(temp.Path, "bad.safetensors");
            SafetensorsWriter.Write(path, tensors);

            manual_seed(3);
            var layer = new MoeLayer(config.ToOptions());
            var before = layer.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            var act = () => HfMoeBlock.LoadInto(layer, path, config);
            var error = act.Should().Throw<StateDictMismatchException>().Which;
            error.Message.Should().Contain("experts.5.up_proj.weight").And.Contain("[8, 16]").And.Contain("[9, 16]").And.Contain("experts.2.down_proj.weight");
            error.Problems.Select(p => p.Kind).Should().BeEquivalentTo(new[] { StateDictProblemKind.ShapeMismatch, StateDictProblemKind.MissingKey });
            foreach (var (key, value) in layer.state_dict()) value.allclose(before[key], 0, 0).Should().BeTrue($"{key} unchanged");
        }

        [Fact]
        public void ExtraKeysUnderTheBlockAreRefusedInStrictModeOnly()
        {
            var config = HfMoeConfig.Read(Fixtures.Config("olmoe"));
            var tensors = SafetensorsStateDict.Load(Fixtures.Weights("olmoe"));
            tensors["model.layers.0.mlp.experts.8.up_proj.weight"] = zeros(8, 16);
            using var temp = new TempFolder();
            var path = Path.Combine(temp.Path, "extra.safetensors");
            SafetensorsWriter.Write(path, tensors);
            var strict = () => HfMoeBlock.Load(path, config);
            strict.Should().Throw<StateDictMismatchException>().Which.Problems.Should().ContainSingle(p => p.Kind == StateDictProblemKind.UnexpectedKey && p.FileKey == "model.layers.0.mlp.experts.8.up_proj.weight");
            HfMoeBlock.Load(path, config, strict: false).NumExperts.Should().Be(8);
        }

        [Fact]
        public void AnotherLayersPrefixSelectsNothingAndSaysWhatTheFileHolds()
        {
            var config = HfMoeConfig.Read(Fixtures.Config("deepseek_v3"));
            var act = () => HfMoeBlock.Load(Fixtures.Weights("deepseek_v3"), config, "model.layers.0.");
            act.Should().Throw<InvalidDataException>().WithMessage("*holds no MoE block under 'model.layers.0.'*model.layers.3.*");
        }

        [Theory]
        [InlineData("""{ "model_type": "llama", "hidden_size": 8 }""", "*model_type 'llama' is not a supported MoE architecture*")]
        [InlineData("""{ "model_type": "qwen3_moe", "hidden_size": 8, "num_experts": "four" }""", "*'num_experts' must be an integer*")]
        [InlineData("""{ "model_type": "mixtral", "hidden_act": "gelu" }""", "*'hidden_act' must be 'silu'; got 'gelu'*")]
        [InlineData("""{ "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, num_local_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "olmoe", "num_experts_per_tok": 0 }""", "*'num_experts_per_tok' must be in [1, num_experts = 64]; got 0*")]
        [InlineData("""{ "model_type": "qwen3_moe", "num_experts": -8 }""", "*'num_experts' must be at least 1; got -8*")]
        [InlineData("""{ "model_type": "deepseek_v3", "n_group": 4, "topk_group": 6 }""", "*'topk_group' must be in [1, n_group = 4]; got 6*")]
        [InlineData("""{ "model_type": "deepseek_v3", "n_routed_experts": 10, "n_group": 4 }""", "*'n_group' = 4 must divide 'n_routed_experts' = 10*")]
        [InlineData("""{ "model_type": "deepseek_v3", "routed_scaling_factor": -1 }""", "*'routed_scaling_factor' must be a finite number > 0; got -1*")]
        [InlineData("""{ "model_type": "deepseek_v3", "topk_method": "group_limited_greedy" }""", "*'topk_method' must be 'noaux_tc'; got 'group_limited_greedy'*")]
        [InlineData("""{ "model_type": "qwen2_moe", "decoder_sparse_step": 0 }""", "*'decoder_sparse_step' must be at least 1; got 0*")]
        public void BadConfigsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }
    }
}
