using System.Collections.Generic;
using System.IO;
using FluentAssertions;
using MoeLayers.Interop.Tests.HuggingFace.Models;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// granitemoe and granitemoeshared: transformers' defaults (configuration_granitemoe.py and
    /// configuration_granitemoeshared.py @ 040e1a7e4bb4f48ff62dfbbb1f6f8eff23e894ac), top-k of the logits then softmax,
    /// the refusals, and strictness over a block whose parts sit beside the attention in the decoder layer.
    /// </summary>
    public class GraniteMoeConfigTests
    {
        [Theory]
        [InlineData("granitemoe", HfArchitecture.GraniteMoe)]
        [InlineData("granitemoeshared", HfArchitecture.GraniteMoeShared)]
        public void AbsentFieldsTakeTransformersDefaults(string modelType, HfArchitecture architecture)
        {
            var config = HfMoeConfig.Parse($$"""{ "model_type": "{{modelType}}" }""");

            config.Architecture.Should().Be(architecture);
            (config.HiddenSize, config.NumLayers, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((4096, 32, 11008, 8, 2));
            config.TopKOrder.Should().Be(TopKOrder.TopKThenSoftmax);
            (config.SharedExperts, config.SharedWidth).Should().Be((0, 0), "shared_intermediate_size defaults to 0: no shared MLP");
            config.MoeLayerIndices.Should().HaveCount(32);
            config.DenseReason(31).Should().BeNull();
            config.AuxiliaryLossCoefficient.Should().Be(0.001);
            config.ToOptions().TopKOrder.Should().Be(TopKOrder.TopKThenSoftmax);
        }

        [Fact]
        public void TheSharedMlpWidthIsRead()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "granitemoeshared", "shared_intermediate_size": 1024 }""");
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((1, 1024, false));
            config.ToOptions().SharedHiddenDim.Should().Be(1024);
        }

        [Fact]
        public void GranitemoeDoesNotReadASharedWidth()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "granitemoe", "shared_intermediate_size": 1024 }""");
            config.SharedExperts.Should().Be(0, "GraniteMoeDecoderLayer has no shared MLP");
        }

        [Theory]
        [InlineData("""{ "model_type": "granitemoe", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*exactly 1*")]
        [InlineData("""{ "model_type": "granitemoe", "num_local_experts": 0 }""", "*'num_local_experts' must be at least 1; got 0*")]
        [InlineData("""{ "model_type": "granitemoeshared", "num_local_experts": 4, "num_experts_per_tok": 6 }""", "*'num_experts_per_tok' must be in [1, num_local_experts = 4]; got 6*")]
        [InlineData("""{ "model_type": "granitemoeshared", "shared_intermediate_size": -1 }""", "*'shared_intermediate_size' must be at least 0; got -1*")]
        [InlineData("""{ "model_type": "granitemoe", "hidden_act": "relu" }""", "*'hidden_act' must be 'silu'; got 'relu'*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }

        [Fact]
        public void StrictLoadingAcceptsTheLayersAttentionButRefusesAStrayInTheBlockOrTheSharedMlp()
        {
            using var temp = new TempFolder();
            var fixture = HfModelFixture.Load("granitemoeshared");
            File.Copy(Path.Combine(fixture.Folder, "config.json"), temp.File("config.json"));
            Write(temp, fixture, ("model.layers.0.self_attn.q_proj.weight", zeros(16, 16)));

            using (var checkpoint = HfCheckpoint.Open(temp.Path))
            {
                using var layer = checkpoint.LoadLayer(0);
                layer.Should().NotBeNull();
            }

            foreach (var stray in new[] { "model.layers.0.block_sparse_moe.extra.weight", "model.layers.0.shared_mlp.extra.weight" })
            {
                Write(temp, fixture, (stray, zeros(2, 2)));
                using var checkpoint = HfCheckpoint.Open(temp.Path);
                var act = () => checkpoint.LoadLayer(0);
                act.Should().Throw<StateDictMismatchException>().Which.Problems.Should()
                    .ContainSingle(p => p.Kind == StateDictProblemKind.UnexpectedKey && p.FileKey == stray);
            }
        }

        private static void Write(TempFolder temp, HfModelFixture fixture, (string Key, Tensor Value) extra)
        {
            using var scope = NewDisposeScope();
            Dictionary<string, Tensor> tensors;
            using (var file = SafetensorsFile.Open(Path.Combine(fixture.Folder, "model.safetensors"))) tensors = file.ReadAll();
            tensors[extra.Key] = extra.Value.to(ScalarType.BFloat16);
            SafetensorsWriter.Write(temp.File("model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
    }
}
