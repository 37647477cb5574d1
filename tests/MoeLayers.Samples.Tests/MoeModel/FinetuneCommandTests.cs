using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.Json;
using FluentAssertions;
using MoeLayers.Interop;
using MoeLayers.Samples.MoeModel;
using MoeLayers.Samples.MoeModel.Commands;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The finetune and merge commands end to end on the tiny glm4_moe folder (dense layer, shared experts, balance bias):
    /// what they write, and that the merged folder computes what the base model with the saved adapters computes.
    /// </summary>
    public sealed class FinetuneCommandTests
    {
        private static int Run(params string[] args) => new RootCommand { FinetuneCommand.Create(), MergeCommand.Create() }.Parse(args).Invoke();

        [Fact]
        public void FinetuneThenMergeWritesAFolderThatComputesTheAdaptedModel()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var source = MoeModelFixtures.Folder("glm4_moe");
            var run = Path.Combine(temp.Path, "run");
            Run("finetune", source, "--output", run, "--max-characters", "20000", "--steps", "8", "--batch-size", "2", "--sequence-length", "32",
                "--warmup", "1", "--lr", "1e-2", "--rank", "4", "--targets", "attention,experts,dense,router", "--checkpoint-every", "4").Should().Be(0);
            foreach (var file in new[] { "loss.png", "loss.csv", "summary.json", "adapters/adapter_config.json", "adapters/adapter_model.safetensors", "checkpoint/trainer_state.json" })
                File.Exists(Path.Combine(run, file)).Should().BeTrue(file);
            var csv = File.ReadAllLines(Path.Combine(run, "loss.csv"));
            csv.Should().HaveCount(9, "a header and 8 steps");
            csv[^1].Split(',').Should().HaveCount(9).And.Subject.Last().Should().NotBeEmpty("the last step scores the validation tokens");
            csv[1].Split(',').Last().Should().BeEmpty("--eval-every 50 scores no earlier step of 8");
            using (var summary = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, "summary.json"))))
            {
                var root = summary.RootElement;
                root.GetProperty("Method").GetString().Should().Be("lora");
                root.GetProperty("PerplexityAfter").GetDouble().Should().BeLessThan(root.GetProperty("PerplexityBefore").GetDouble());
                root.GetProperty("TrainedParameters").GetInt64().Should().BeLessThan(root.GetProperty("ModelParameters").GetInt64());
            }

            var merged = Path.Combine(temp.Path, "merged");
            Run("merge", source, "--adapters", Path.Combine(run, "adapters"), "--output", merged).Should().Be(0);
            var ids = MoeModelFixtures.ReferenceOf("glm4_moe").InputIds;
            using var adapted = MoeCausalLM.Load(source, ScalarType.Float32);
            PeftAdapterFolder.ApplyTo(Path.Combine(run, "adapters"), adapted)
                .Should().Be(new AdapterSettings(4, 16, false, AdapterTargets.AllProjections | AdapterTargets.Router));
            using (var checkpointed = MoeCausalLM.Load(source, ScalarType.Float32))
            {
                ModelAdapters.Apply(checkpointed, adapted.Adapters!);
                using var trained = SafetensorsFile.Open(Path.Combine(run, "checkpoint", TrainingCheckpoint.WeightsFileName));
                ModelAdapters.LoadTrainedState(checkpointed, trained.Keys.ToDictionary(k => k, k => trained.Read(k)), "checkpoint");
                checkpointed.Forward(ids).allclose(adapted.Forward(ids), 0, 0).Should().BeTrue("the PEFT folder holds exactly the trained tensors the checkpoint holds, balance biases included");
            }
            using var reloaded = MoeCausalLM.Load(merged, ScalarType.Float32);
            var expected = adapted.Forward(ids);
            var actual = reloaded.Forward(ids);
            actual.allclose(expected, 1e-5, 5e-5).Should().BeTrue($"the merged folder is the base with the adapters folded in (largest difference {(actual - expected).abs().max().item<float>():E2})");

            using var baseModel = MoeCausalLM.Load(source, ScalarType.Float32);
            (baseModel.Forward(ids) - expected).abs().max().item<float>().Should().BeGreaterThan(1e-3f, "8 steps changed the function");
        }

        [Fact]
        public void BadOptionsFailWithExitCodeOneBeforeLoading()
        {
            using var temp = new TempFolder();
            Run("finetune", "--output", temp.Path, "--targets", "attention,lm_head").Should().Be(1);
            Run("finetune", "--output", temp.Path, "--method", "qlora").Should().Be(1);
            Run("finetune", "--output", temp.Path, "--warmup", "300", "--steps", "200").Should().Be(1);
            Run("finetune", "--output", temp.Path, "--method", "full", "--dtype", "bf16").Should().Be(1);
            Directory.EnumerateFileSystemEntries(temp.Path).Should().BeEmpty("nothing is written for refused options");
        }
    }
}
