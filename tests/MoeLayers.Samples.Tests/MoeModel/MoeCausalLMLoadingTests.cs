using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// Loading checks every key and shape before the model changes, and export writes a folder that loads back to the
    /// same logits bit for bit.
    /// </summary>
    public sealed class MoeCausalLMLoadingTests
    {
        [Theory]
        [MemberData(nameof(MoeCausalLMParityTests.Folders), MemberType = typeof(MoeCausalLMParityTests))]
        public void ExportThenLoadGivesTheSameLogitsBitForBit(string name)
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var source = MoeModelFixtures.Folder(name);
            var reference = MoeModelFixtures.ReferenceOf(name);
            using var model = MoeCausalLM.Load(source, ScalarType.Float32);
            var before = model.Forward(reference.InputIds);
            var exported = Path.Combine(temp.Path, "export");
            model.Save(exported, source, maxShardBytes: 150_000);
            using var again = MoeCausalLM.Load(exported, ScalarType.Float32);
            var after = again.Forward(reference.InputIds);
            after.allclose(before, 0, 0).Should().BeTrue("the exported float32 weights are the loaded ones");

            var sourceConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
            if ((string?)sourceConfig["torch_dtype"] == "float32")
            {
                File.ReadAllText(Path.Combine(exported, "config.json")).Should().Be(File.ReadAllText(Path.Combine(source, "config.json")), "config.json is copied as read");
            }
            else
            {
                // Mixtral's bf16 folder exported from a float32 model: the same fields, torch_dtype now float32.
                sourceConfig["torch_dtype"] = "float32";
                var exportedConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(exported, "config.json")));
                System.Text.Json.Nodes.JsonNode.DeepEquals(exportedConfig, sourceConfig).Should().BeTrue();
            }
            File.ReadAllBytes(Path.Combine(exported, "generation_config.json")).Should().Equal(File.ReadAllBytes(Path.Combine(source, "generation_config.json")));
            File.Exists(Path.Combine(exported, SafetensorsCheckpoint.IndexFileName)).Should().BeTrue("150 kB shards split every fixture");
            using var written = SafetensorsCheckpoint.Open(exported);
            using var original = SafetensorsCheckpoint.Open(source);
            written.Keys.Should().BeEquivalentTo(original.Keys, "every tensor is written under its published name");
        }

        [Fact]
        public void ExportCopiesTheTokenizerFilesThatArePresent()
        {
            using var temp = new TempFolder();
            var source = Path.Combine(temp.Path, "source");
            CopyFolder(MoeModelFixtures.Folder("olmoe"), source);
            File.WriteAllText(Path.Combine(source, "tokenizer.json"), "{\"model\": {}}");
            File.WriteAllText(Path.Combine(source, "chat_template.jinja"), "{{ messages }}");
            File.WriteAllText(Path.Combine(source, "notes.txt"), "not a model file");
            File.Delete(Path.Combine(source, "tokenizer_config.json"));
            using var model = MoeCausalLM.Load(source, ScalarType.Float32);
            var exported = Path.Combine(temp.Path, "export");
            model.Save(exported, source);
            File.ReadAllText(Path.Combine(exported, "tokenizer.json")).Should().Be("{\"model\": {}}");
            File.ReadAllText(Path.Combine(exported, "chat_template.jinja")).Should().Be("{{ messages }}");
            File.Exists(Path.Combine(exported, "notes.txt")).Should().BeFalse();
            File.Exists(Path.Combine(exported, "tokenizer_config.json")).Should().BeFalse("only files the source has are copied");
            File.Exists(Path.Combine(exported, SafetensorsCheckpoint.SingleFileName)).Should().BeTrue("the default shard size holds the tiny model in one file");
        }

        [Fact]
        public void ExportInBFloat16StoresBFloat16AndKeepsTheRoutersFloat32Inside()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var source = MoeModelFixtures.Folder("qwen3_moe");
            using var model = MoeCausalLM.Load(source, ScalarType.Float32);
            var exported = Path.Combine(temp.Path, "export");
            model.Save(exported, source, ScalarType.BFloat16);
            using var written = SafetensorsCheckpoint.Open(exported);
            written.GetInfo("model.embed_tokens.weight").DType.Should().Be(SafetensorsDType.BF16);
            written.GetInfo("model.layers.1.mlp.gate.weight").DType.Should().Be(SafetensorsDType.BF16);
            MoeModelConfig.Read(exported).Json.Should().Contain("\"torch_dtype\": \"bfloat16\"", "config.json states the stored dtype");
            using var again = MoeCausalLM.Load(exported, ScalarType.BFloat16);
            var router = again.named_parameters().Single(p => p.name == "model.layers.1.mlp.router.weight").parameter;
            router.dtype.Should().Be(ScalarType.Float32);
            again.Decoder.EmbeddingWeight.dtype.Should().Be(ScalarType.BFloat16);
            var logits = again.Forward(MoeModelFixtures.ReferenceOf("qwen3_moe").InputIds);
            logits.dtype.Should().Be(ScalarType.Float32);
        }

        [Fact]
        public void AMissingTensorIsRefusedByKeyAndTheModelIsUnchanged()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "model");
            RewriteWeights("qwen3_moe", folder, tensors => tensors.Remove("model.layers.0.self_attn.k_norm.weight"));
            AssertRefusedAndUnchanged(folder, "missing 'model.layers.0.self_attn.k_norm.weight' (expected [16])");
        }

        [Fact]
        public void AWrongShapeIsRefusedByKeyAndTheModelIsUnchanged()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "model");
            RewriteWeights("gpt_oss", folder, tensors => tensors["model.layers.1.self_attn.sinks"] = zeros(5));
            AssertRefusedAndUnchanged(folder, "'model.layers.1.self_attn.sinks' has shape [5]; expected [4]");
        }

        [Fact]
        public void AnUnexpectedTensorIsRefusedByKey()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "model");
            RewriteWeights("mixtral", folder, tensors => tensors["lm_head.weight"] = zeros(512, 32, dtype: ScalarType.BFloat16));
            AssertRefusedAndUnchanged(folder, "unexpected 'lm_head.weight'");
        }

        [Fact]
        public void ABadMoeBlockIsRefusedByMoeLayersInteropAndTheWholeModelIsUnchanged()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "model");
            RewriteWeights("glm4_moe", folder, tensors => tensors.Remove("model.layers.2.mlp.experts.3.up_proj.weight"));
            var error = AssertRefusedAndUnchanged<Exception>(folder);
            error.Message.Should().Contain("model.layers.2.mlp.experts.3.up_proj.weight");
        }

        [Fact]
        public void Glm45MultiTokenPredictionLayersAreSkippedAsTransformersSkipsThem()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "model");
            // GLM-4.5 stores its next-token-prediction layer after the decoder layers (model.layers.46.* for 46 layers).
            RewriteWeights("glm4_moe", folder, tensors => tensors["model.layers.3.eh_proj.weight"] = zeros(32, 64));
            FluentActions.Invoking(() => MoeCausalLM.Load(folder, ScalarType.Float32)).Should().Throw<InvalidDataException>()
                .WithMessage("*unexpected 'model.layers.3.eh_proj.weight'*", "num_nextn_predict_layers = 0 declares no such layer");
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
            config["num_nextn_predict_layers"] = 1;
            File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
            using var model = MoeCausalLM.Load(folder, ScalarType.Float32);
            model.Config.NextTokenPredictionLayers.Should().Be(1);
        }

        [Fact]
        public void LoadingReportsProgressPerTensorAndForTheMoeBlocks()
        {
            var reports = new List<LoadProgress>();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("olmoe"), ScalarType.Float32, new SynchronousProgress(reports.Add));
            reports.Should().NotBeEmpty();
            reports.Select(r => r.Done).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
            reports[^1].Done.Should().Be(reports[^1].Total);
            reports.TakeLast(2).Select(r => r.Step).Should().Equal("model.layers.0.mlp (MoE)", "model.layers.1.mlp (MoE)");
            reports.Select(r => r.Step).Should().Contain("model.embed_tokens.weight").And.Contain("lm_head.weight");
        }

        [Fact]
        public void LoadingIntoAModelReportsTheMoeBlocksAsOneStep()
        {
            var reports = new List<LoadProgress>();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("glm4_moe"), ScalarType.Float32);
            using var checkpoint = HfCheckpoint.Open(MoeModelFixtures.Folder("glm4_moe"));
            model.LoadWeights(checkpoint, new SynchronousProgress(reports.Add));
            reports[^1].Should().Be(new LoadProgress(reports.Count, reports.Count, "MoE layers (2)"));
        }

        [Fact]
        public void AFolderThatDoesNotFitIsRefusedByLoadToo()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "model");
            RewriteWeights("olmoe", folder, tensors => tensors["model.layers.1.self_attn.q_norm.weight"] = zeros(31));
            FluentActions.Invoking(() => MoeCausalLM.Load(folder, ScalarType.Float32)).Should().Throw<InvalidDataException>()
                .WithMessage("*'model.layers.1.self_attn.q_norm.weight' has shape [31]; expected [32]*");
        }

        [Fact]
        public void ForwardRefusesIdsOutsideTheVocabularyAndBadShapes()
        {
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("olmoe"), ScalarType.Float32);
            FluentActions.Invoking(() => model.Forward(tensor(new long[] { 1, 512 }).unsqueeze(0)))
                .Should().Throw<ArgumentOutOfRangeException>().WithMessage("*[0, vocab_size = 512)*[1, 512]*");
            FluentActions.Invoking(() => model.Forward(tensor(new long[] { 1, 2 })))
                .Should().Throw<ArgumentException>().WithMessage("*int64 [B, T]*");
            FluentActions.Invoking(() => model.Forward(tensor(new[] { 1f, 2f }).unsqueeze(0)))
                .Should().Throw<ArgumentException>().WithMessage("*int64 [B, T]*Float32*");
        }

        private static void AssertRefusedAndUnchanged(string folder, string expectedLine)
        {
            var error = AssertRefusedAndUnchanged<InvalidDataException>(folder);
            error.Message.Should().Contain(expectedLine).And.Contain("nothing was loaded");
        }

        /// <summary>Loads <paramref name="folder"/> into a model holding the fixture's weights; the load must throw and
        /// leave every parameter exactly as it was.</summary>
        private static T AssertRefusedAndUnchanged<T>(string folder) where T : Exception
        {
            var config = MoeModelConfig.Read(folder);
            var name = config.ModelType;
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.Float32);
            var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
            using var checkpoint = HfCheckpoint.Open(folder);
            var error = FluentActions.Invoking(() => model.LoadWeights(checkpoint)).Should().Throw<T>().Which;
            foreach (var (key, parameter) in model.named_parameters())
                parameter.allclose(before[key], 0, 0).Should().BeTrue($"'{key}' must be unchanged after a refused load");
            foreach (var value in before.Values) value.Dispose();
            return error;
        }

        /// <summary>Copies fixture <paramref name="name"/> to <paramref name="folder"/> with its weights rewritten as one file after <paramref name="edit"/>.</summary>
        private static void RewriteWeights(string name, string folder, Action<Dictionary<string, Tensor>> edit)
        {
            Directory.CreateDirectory(folder);
            var source = MoeModelFixtures.Folder(name);
            File.Copy(Path.Combine(source, "config.json"), Path.Combine(folder, "config.json"));
            using var checkpoint = SafetensorsCheckpoint.Open(source);
            var tensors = checkpoint.Keys.ToDictionary(k => k, k => checkpoint.Read(k));
            edit(tensors);
            SafetensorsWriter.Write(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var t in tensors.Values) t.Dispose();
        }

        private static void CopyFolder(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        private sealed class SynchronousProgress(Action<LoadProgress> report) : IProgress<LoadProgress>
        {
            public void Report(LoadProgress value) => report(value);
        }
    }
}
