using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using FluentAssertions;
using MoeLayers.Interop;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// PeftAdapterFolder: round trips, PEFT's key names and config fields, and PEFT's merge rule (lora.Linear: W + s·B·A;
    /// ParamWrapper: W_e + s·(B_e·A_e)ᵀ, peft src/peft/tuners/lora/layer.py @ 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40) on the
    /// saved file against the same layer merged by MoeLayers.
    /// </summary>
    public sealed class PeftAdapterFolderTests
    {
        private static readonly AdapterSettings All = new(2, 8, false, AdapterTargets.AllProjections | AdapterTargets.Router);

        public static TheoryData<string> Families() => new() { "qwen3_moe", "olmoe", "mixtral", "gpt_oss", "glm4_moe" };

        /// <summary>Random adapters (B non-zero) for every key the settings give; MoE blocks checked by loading them into MoeLora-adapted layers.</summary>
        private static Dictionary<string, Tensor> RandomAdapters(MoeModelConfig config, AdapterSettings settings, int seed)
        {
            var generator = new TorchSharp.torch.Generator((ulong)seed);
            return PeftAdapterTensors.ExpectedShapes(config, settings).ToDictionary(kv => kv.Key, kv => randn(kv.Value, generator: generator));
        }

        /// <summary>A block's adapters as MoeLora keys them (the balance bias is the model's trained state, not a MoeLora adapter).</summary>
        private static Dictionary<string, Tensor> BlockOf(Dictionary<string, Tensor> adapters, string block) =>
            adapters.Where(kv => kv.Key.StartsWith(block, StringComparison.Ordinal) && kv.Key != block + PeftAdapterTensors.BalanceBiasKey)
                .ToDictionary(kv => kv.Key.Substring(block.Length), kv => kv.Value);

        [Fact]
        public void RoutersAloneUsePeftsDummyTargetModules()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var config = MoeModelConfig.Read(MoeModelFixtures.Folder("qwen3_moe"));
            var settings = new AdapterSettings(2, 4, false, AdapterTargets.Router);
            var adapters = RandomAdapters(config, settings, 9);
            adapters.Keys.Should().BeEquivalentTo("model.layers.1.mlp.router.weight", "model.layers.2.mlp.router.weight");
            var folder = Path.Combine(temp.Path, "a");
            PeftAdapterFolder.Save(folder, config, adapters, settings, null);
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, PeftAdapterFolder.ConfigFileName)))!;
            ((string?)json["target_modules"]).Should().Be("dummy-target-modules", "PEFT refuses an adapter whose target_modules match nothing, unless it is this placeholder");
            json["modules_to_save"]!.AsArray().Select(n => (string?)n).Should().Equal("mlp.gate");
            var loaded = PeftAdapterFolder.Load(folder, config);
            loaded.Settings.Should().Be(settings);
            foreach (var (key, value) in adapters) loaded.Adapters[key].allclose(value, 0, 0).Should().BeTrue(key);
        }

        [Fact]
        public void Glm4BalanceBiasesTravelAsTheGatesBufferAndAreOptionalWhenRead()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var config = MoeModelConfig.Read(MoeModelFixtures.Folder("glm4_moe"));
            var settings = new AdapterSettings(2, 4, false, AdapterTargets.Experts);
            var adapters = RandomAdapters(config, settings, 7);
            var moeLayer = Enumerable.Range(0, config.NumLayers).First(config.IsMoeLayer);
            var biasKey = $"model.layers.{moeLayer}.mlp.router.correction_bias";
            adapters.Should().ContainKey(biasKey, "training moves glm4_moe's aux-loss-free balance bias, so the adapters carry it");
            var folder = Path.Combine(temp.Path, "a");
            PeftAdapterFolder.Save(folder, config, adapters, settings, null);
            using (var file = SafetensorsFile.Open(Path.Combine(folder, PeftAdapterFolder.WeightsFileName)))
            {
                var peftKey = $"base_model.model.model.layers.{moeLayer}.mlp.gate.e_score_correction_bias";
                file.Keys.Should().Contain(peftKey, "PEFT keeps a module to save's buffers in its state dict");
                file.Read(peftKey).allclose(adapters[biasKey], 0, 0).Should().BeTrue();
            }
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, PeftAdapterFolder.ConfigFileName)))!;
            json["modules_to_save"]!.AsArray().Select(n => (string?)n).Should().Equal("mlp.gate");
            var loaded = PeftAdapterFolder.Load(folder, config);
            loaded.Settings.Should().Be(settings, "a balance bias alone does not make the routers a target");
            loaded.Adapters[biasKey].allclose(adapters[biasKey], 0, 0).Should().BeTrue();

            // A folder PEFT wrote in Python holds no balance bias: it loads, and the base model's biases stand.
            var withoutBias = adapters.Where(kv => !kv.Key.EndsWith(PeftAdapterTensors.BalanceBiasKey, StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
            var peftTensors = PeftAdapterTensors.ToPeft(config, withoutBias);
            SafetensorsWriter.Write(Path.Combine(folder, PeftAdapterFolder.WeightsFileName), peftTensors);
            PeftAdapterFolder.Load(folder, config).Adapters.Keys.Should().BeEquivalentTo(withoutBias.Keys);
        }

        [Theory]
        [MemberData(nameof(Families))]
        public void SaveThenLoadGivesTheSameTensorsAndSettings(string name)
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var config = MoeModelConfig.Read(MoeModelFixtures.Folder(name));
            var settings = All with { RankStabilized = name == "gpt_oss" };
            var adapters = RandomAdapters(config, settings, 1);
            var folder = Path.Combine(temp.Path, "adapter");
            var encoding = PeftAdapterFolder.Save(folder, config, adapters, settings, "tiny/" + name);
            encoding.Should().Be(name == "gpt_oss" ? PeftExpertEncoding.FusedParameters : PeftExpertEncoding.PerExpertModules);
            var loaded = PeftAdapterFolder.Load(folder, config);
            var expectedTargets = config.Family is MoeModelFamily.Qwen3Moe or MoeModelFamily.Glm4Moe ? settings.Targets : settings.Targets & ~AdapterTargets.DenseMlp;
            loaded.Settings.Should().Be(settings with { Targets = expectedTargets });
            loaded.Adapters.Keys.Should().BeEquivalentTo(adapters.Keys);
            foreach (var (key, value) in adapters) (loaded.Adapters[key].shape.SequenceEqual(value.shape) && loaded.Adapters[key].eq(value).all().item<bool>()).Should().BeTrue(key);
        }

        [Theory]
        [MemberData(nameof(Families))]
        public void TheMoeBlockKeysAreMoeLorasOwn(string name)
        {
            using var scope = NewDisposeScope();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.Float32);
            var config = model.Config;
            var i = Enumerable.Range(0, config.NumLayers).First(config.IsMoeLayer);
            using var adapted = MoeLora.Apply((MoeLayer)model.Decoder.Layers[i].FeedForward, All.ToLoraOptions());
            var expected = BlockOf(RandomAdapters(config, All, 2), $"model.layers.{i}.{config.MoeBlockName}.");
            MoeLora.AdapterStateDict(adapted).ToDictionary(kv => kv.Key, kv => kv.Value.shape).Should().BeEquivalentTo(expected.ToDictionary(kv => kv.Key, kv => kv.Value.shape));
        }

        [Fact]
        public void Qwen3MoeKeysAndConfigAreWhatPeftWrites()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var config = MoeModelConfig.Read(MoeModelFixtures.Folder("qwen3_moe"));
            var settings = new AdapterSettings(2, 16, false, AdapterTargets.Attention | AdapterTargets.Experts | AdapterTargets.Router);
            var folder = Path.Combine(temp.Path, "a");
            PeftAdapterFolder.Save(folder, config, RandomAdapters(config, settings, 3), settings, "Qwen/Qwen3-30B-A3B");
            using var file = SafetensorsFile.Open(Path.Combine(folder, PeftAdapterFolder.WeightsFileName));
            var expected = new Dictionary<string, long[]>();
            for (var layer = 0; layer < 3; layer++)
            {
                foreach (var (p, o, n) in new[] { ("q_proj", 64L, 32L), ("k_proj", 32L, 32L), ("v_proj", 32L, 32L), ("o_proj", 32L, 64L) })
                {
                    expected[$"base_model.model.model.layers.{layer}.self_attn.{p}.lora_A.weight"] = new[] { 2L, n };
                    expected[$"base_model.model.model.layers.{layer}.self_attn.{p}.lora_B.weight"] = new[] { o, 2L };
                }
                if (layer == 0) continue; // mlp_only_layers [0]
                expected[$"base_model.model.model.layers.{layer}.mlp.gate.weight"] = new[] { 8L, 32L };
                for (var e = 0; e < 8; e++)
                {
                    foreach (var (p, o, n) in new[] { ("gate_proj", 16L, 32L), ("up_proj", 16L, 32L), ("down_proj", 32L, 16L) })
                    {
                        expected[$"base_model.model.model.layers.{layer}.mlp.experts.{e}.{p}.lora_A.weight"] = new[] { 2L, n };
                        expected[$"base_model.model.model.layers.{layer}.mlp.experts.{e}.{p}.lora_B.weight"] = new[] { o, 2L };
                    }
                }
            }
            file.Keys.ToDictionary(k => k, k => file.GetInfo(k).Shape.ToArray()).Should().BeEquivalentTo(expected);
            file.Keys.Select(k => file.GetInfo(k).DType).Distinct().Should().Equal(SafetensorsDType.F32);

            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, PeftAdapterFolder.ConfigFileName)));
            var root = json.RootElement;
            root.GetProperty("peft_type").GetString().Should().Be("LORA");
            root.GetProperty("task_type").GetString().Should().Be("CAUSAL_LM");
            root.GetProperty("r").GetInt32().Should().Be(2);
            root.GetProperty("lora_alpha").GetRawText().Should().Be("16");
            root.GetProperty("use_rslora").GetBoolean().Should().BeFalse();
            root.GetProperty("bias").GetString().Should().Be("none");
            root.GetProperty("fan_in_fan_out").GetBoolean().Should().BeFalse();
            root.GetProperty("lora_dropout").GetDouble().Should().Be(0);
            root.GetProperty("base_model_name_or_path").GetString().Should().Be("Qwen/Qwen3-30B-A3B");
            root.GetProperty("target_modules").EnumerateArray().Select(v => v.GetString()).Should()
                .BeEquivalentTo("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
            // Layer 0's dense MLP shares the experts' names but is not adapted.
            root.GetProperty("exclude_modules").EnumerateArray().Select(v => v.GetString()).Should()
                .BeEquivalentTo("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj");
            root.GetProperty("modules_to_save").EnumerateArray().Select(v => v.GetString()).Should().Equal("mlp.gate");
            root.GetProperty("target_parameters").ValueKind.Should().Be(JsonValueKind.Null);
            root.GetProperty("rank_pattern").EnumerateObject().Should().BeEmpty();
        }

        [Fact]
        public void MixtralKeysAreBlockSparseMoeW1W3W2()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var config = MoeModelConfig.Read(MoeModelFixtures.Folder("mixtral"));
            var settings = new AdapterSettings(3, 6, false, AdapterTargets.Experts);
            var folder = Path.Combine(temp.Path, "a");
            PeftAdapterFolder.Save(folder, config, RandomAdapters(config, settings, 4), settings, null);
            using var file = SafetensorsFile.Open(Path.Combine(folder, PeftAdapterFolder.WeightsFileName));
            var expected = new Dictionary<string, long[]>();
            for (var layer = 0; layer < 2; layer++)
                for (var e = 0; e < 4; e++)
                    foreach (var p in new[] { "w1", "w3", "w2" })
                    {
                        expected[$"base_model.model.model.layers.{layer}.block_sparse_moe.experts.{e}.{p}.lora_A.weight"] = new[] { 3L, 32L };
                        expected[$"base_model.model.model.layers.{layer}.block_sparse_moe.experts.{e}.{p}.lora_B.weight"] = new[] { 32L, 3L };
                    }
            file.Keys.ToDictionary(k => k, k => file.GetInfo(k).Shape.ToArray()).Should().BeEquivalentTo(expected);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, PeftAdapterFolder.ConfigFileName)));
            json.RootElement.GetProperty("target_modules").EnumerateArray().Select(v => v.GetString()).Should().BeEquivalentTo("w1", "w2", "w3");
            json.RootElement.GetProperty("modules_to_save").ValueKind.Should().Be(JsonValueKind.Null);
        }

        /// <summary>PEFT's merge of the saved file applied to the folder's published weights equals MoeLayers' own merge.</summary>
        [Theory]
        [MemberData(nameof(Families))]
        public void PeftsMergeOfTheFileEqualsMoeLorasMerge(string name)
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var source = MoeModelFixtures.Folder(name);
            using var model = MoeCausalLM.Load(source, ScalarType.Float32);
            var config = model.Config;
            var settings = new AdapterSettings(2, 5, name == "olmoe", AdapterTargets.Attention | AdapterTargets.Experts);
            var adapters = RandomAdapters(config, settings, 5);
            var folder = Path.Combine(temp.Path, "a");
            PeftAdapterFolder.Save(folder, config, adapters, settings, null);
            using var file = SafetensorsFile.Open(Path.Combine(folder, PeftAdapterFolder.WeightsFileName));
            using var published = SafetensorsCheckpoint.Open(source);
            var fused = name == "gpt_oss";
            var layout = fused ? HfExpertLayout.Fused : HfExpertLayout.PerExpert;
            var checkedTensors = 0;
            for (var i = 0; i < config.NumLayers; i++)
            {
                // Attention: lora.Linear's W + s·B·A against our convention W·x + s·B·(A·x) written out.
                var q = $"model.layers.{i}.self_attn.q_proj";
                var peftQ = published.Read(q + ".weight") + settings.Scale * file.Read($"base_model.model.{q}.lora_B.weight").matmul(file.Read($"base_model.model.{q}.lora_A.weight"));
                var ours = published.Read(q + ".weight") + settings.Scale * adapters[q + ".lora_B.weight"].matmul(adapters[q + ".lora_A.weight"]);
                peftQ.allclose(ours, 0, 1e-6).Should().BeTrue();
                if (!config.IsMoeLayer(i)) continue;
                var block = $"model.layers.{i}.{config.MoeBlockName}.";
                using var adapted = MoeLora.Apply((MoeLayer)model.Decoder.Layers[i].FeedForward, settings.ToLoraOptions());
                MoeLora.LoadAdapters(adapted, BlockOf(adapters, block));
                using var merged = MoeLora.MergeAndUnload(adapted);
                var mergedBlock = HfMoeBlock.FromMoeLayers(merged.state_dict(), config.Moe, layout);
                foreach (var (key, weight) in mergedBlock)
                {
                    Tensor peftMerged;
                    if (fused)
                    {
                        var wrapper = key switch { "experts.gate_up_proj" => "experts.base_layer.", "experts.down_proj" => "experts.", _ => null };
                        if (wrapper is null) continue;
                        var a = file.Read($"base_model.model.{block}{wrapper}lora_A.weight");
                        var b = file.Read($"base_model.model.{block}{wrapper}lora_B.weight");
                        long e = config.Moe.NumExperts, r = a.shape[0] / e;
                        var alpha = key == "experts.gate_up_proj" ? PeftAdapterConfig.FusedAlpha(settings) : settings.Alpha;
                        var scale = settings.RankStabilized ? alpha / Math.Sqrt(r) : alpha / r;
                        // ParamWrapper.get_delta_weight, is_transposed: einsum("o r e, e r i -> e i o").
                        var delta = einsum("ore,eri->eio", b.reshape(b.shape[0], r, e), a.reshape(e, r, a.shape[1])) * scale;
                        peftMerged = published.Read(block + key) + delta;
                    }
                    else
                    {
                        if (!file.Contains($"base_model.model.{block}{key[..^"weight".Length]}lora_A.weight")) continue;
                        var module = $"base_model.model.{block}{key[..^".weight".Length]}";
                        peftMerged = published.Read(block + key) + settings.Scale * file.Read(module + ".lora_B.weight").matmul(file.Read(module + ".lora_A.weight"));
                    }
                    peftMerged.allclose(weight, 0, 1e-6).Should().BeTrue(key);
                    (peftMerged - published.Read(block + key)).abs().max().item<float>().Should().BeGreaterThan(0.01f, key);
                    checkedTensors++;
                }
            }
            checkedTensors.Should().BeGreaterThan(0);
        }

        [Fact]
        public void LoadRefusesAWrongRankAMissingKeyAndDora()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var config = MoeModelConfig.Read(MoeModelFixtures.Folder("olmoe"));
            var settings = new AdapterSettings(2, 4, false, AdapterTargets.Experts);
            var folder = Path.Combine(temp.Path, "a");
            PeftAdapterFolder.Save(folder, config, RandomAdapters(config, settings, 6), settings, null);
            var configPath = Path.Combine(folder, PeftAdapterFolder.ConfigFileName);
            var weightsPath = Path.Combine(folder, PeftAdapterFolder.WeightsFileName);
            var text = File.ReadAllText(configPath);

            File.WriteAllText(configPath, text.Replace("\"r\": 2", "\"r\": 3"));
            var wrongRank = () => PeftAdapterFolder.Load(folder, config);
            wrongRank.Should().Throw<InvalidDataException>().WithMessage("*adapter_model.safetensors*'base_model.model.model.layers.0.mlp.experts.0.gate_proj.lora_A.weight' has shape [2, 32], expected [3, 32]*");

            File.WriteAllText(configPath, text.Replace("\"use_dora\": false", "\"use_dora\": true"));
            var dora = () => PeftAdapterFolder.Load(folder, config);
            dora.Should().Throw<InvalidDataException>().WithMessage("*adapter_config.json*'use_dora' = true*");

            File.WriteAllText(configPath, text);
            using (var file = SafetensorsFile.Open(weightsPath))
            {
                var tensors = file.ReadAll();
                tensors.Remove("base_model.model.model.layers.1.mlp.experts.7.down_proj.lora_B.weight");
                file.Dispose();
                SafetensorsWriter.Write(weightsPath, tensors);
            }
            var missing = () => PeftAdapterFolder.Load(folder, config);
            missing.Should().Throw<InvalidDataException>().WithMessage("*missing 'base_model.model.model.layers.1.mlp.experts.7.down_proj.lora_B.weight' (expected [32, 2])*");
        }
    }
}
