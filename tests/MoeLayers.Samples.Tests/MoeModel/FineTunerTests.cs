using System;
using System.IO;
using System.Linq;
using System.Threading;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using MoeLayers.Samples.MoeModel.Evaluation;
using MoeLayers.Samples.MoeModel.Text;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// Fine-tuning the tiny models on tiny-shakespeare: LoRA and full training lower the loss, a run stopped and resumed
    /// from its checkpoint ends where the uninterrupted run does, balance biases move, and a mismatched resume is refused.
    /// </summary>
    public sealed class FineTunerTests
    {
        private static readonly AdapterSettings Lora = new(Rank: 4, Alpha: 8, RankStabilized: false, AdapterTargets.AllProjections);

        private static readonly FineTuneOptions Short = new()
        {
            Steps = 4, BatchSize = 2, SequenceLength = 32, GradientAccumulation = 2, LearningRate = 5e-3, WarmupSteps = 1, CheckpointEvery = 0,
        };

        /// <summary>The first 20,000 characters of tiny-shakespeare as the folder's tokenizer encodes them.</summary>
        private static int[] Text(string family)
        {
            var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "tinyshakespeare", "input.txt"))[..20_000];
            using var tokenizer = ModelTokenizer.Open(MoeModelFixtures.Folder(family));
            return tokenizer.Encode(text, addSpecialTokens: false).ToArray();
        }

        [Theory]
        [InlineData("qwen3_moe", false)]
        [InlineData("olmoe", true)]
        public void TrainingLowersTheLoss(string family, bool full)
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(family), ScalarType.Float32);
            manual_seed(1);
            if (full) foreach (var parameter in model.parameters()) parameter.requires_grad = true;
            else ModelAdapters.Apply(model, Lora);
            var options = Short with { Steps = 30, WarmupSteps = 3, LearningRate = full ? 3e-3 : 1e-2, EvaluateEvery = 10 };
            var tokens = Text(family);
            var (training, validation) = (tokens[..^1000], tokens[^1000..]);
            var before = Perplexity.Measure(model, validation, options.SequenceLength, options.SequenceLength).NegativeLogLikelihood;
            var result = FineTuner.Train(model, new TrainingWindows(training, options.SequenceLength, options.Seed), options, Path.Combine(temp.Path, "checkpoint"),
                resume: false, validation: validation);
            result.History.Should().HaveCount(30);
            result.History.Where(r => r.ValidationLoss is not null).Select(r => r.Step).Should().Equal(10, 20, 30);
            var scored = Perplexity.Measure(model, validation, options.SequenceLength, options.SequenceLength).NegativeLogLikelihood;
            result.History[^1].ValidationLoss.Should().Be(scored, "the last step's validation loss is the trained model's, scored the same way");
            scored.Should().BeLessThan(before - 0.3, $"30 steps on Shakespeare teach a random tiny model its letters (held-out loss {before:F3} → {scored:F3})");
            result.History.Select(r => r.Step).Should().Equal(Enumerable.Range(1, 30));
            var first = result.History.Take(3).Average(r => r.Loss);
            var last = result.History.TakeLast(3).Average(r => r.Loss);
            last.Should().BeLessThan(first, "the training loss falls (128 tokens a step make it noisy)");
            result.History.Should().OnlyContain(r => r.AuxiliaryLoss > 0, "qwen3_moe and olmoe train with the Switch loss × router_aux_loss_coef");
            result.History.Should().OnlyContain(r => r.GradientNorm > 0 && double.IsFinite(r.Loss) && r.TokensPerSecond > 0);
            model.training.Should().BeFalse("the run leaves the model in eval mode");
        }

        [Fact]
        public void AResumedRunEndsWhereTheUninterruptedOneDoes()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var tokens = Text("glm4_moe");
            var data = new TrainingWindows(tokens, Short.SequenceLength, Short.Seed);

            using var straight = MoeCausalLM.Load(MoeModelFixtures.Folder("glm4_moe"), ScalarType.Float32);
            manual_seed(2);
            ModelAdapters.Apply(straight, Lora with { Targets = AdapterTargets.AllProjections | AdapterTargets.Router });
            var biasBefore = ModelAdapters.TrainedState(straight).Where(e => e.Key.EndsWith("correction_bias", StringComparison.Ordinal)).ToList();
            biasBefore.Should().NotBeEmpty("glm4_moe routes with DeepSeek-V3's balance bias");
            var uninterrupted = FineTuner.Train(straight, data, Short, Path.Combine(temp.Path, "straight"), resume: false);
            var expected = ModelAdapters.TrainedState(straight);
            foreach (var (key, bias) in biasBefore)
                expected[key].allclose(bias, 0, 0).Should().BeFalse($"{key} moves after every optimizer step");

            var stopped = Path.Combine(temp.Path, "stopped");
            using (var first = MoeCausalLM.Load(MoeModelFixtures.Folder("glm4_moe"), ScalarType.Float32))
            {
                manual_seed(2);
                ModelAdapters.Apply(first, Lora with { Targets = AdapterTargets.AllProjections | AdapterTargets.Router });
                using var cancel = new CancellationTokenSource();
                var partial = FineTuner.Train(first, data, Short, stopped, resume: false,
                    new Progress(r => { if (r.Step == 2) cancel.Cancel(); }), cancellationToken: cancel.Token);
                partial.Cancelled.Should().BeTrue();
                partial.History.Should().HaveCount(2);
                TrainingCheckpoint.ReadState(stopped).CompletedSteps.Should().Be(2, "a cancelled run checkpoints the steps it did");
            }

            using var resumed = MoeCausalLM.Load(MoeModelFixtures.Folder("glm4_moe"), ScalarType.Float32);
            manual_seed(99);
            ModelAdapters.Apply(resumed, Lora with { Targets = AdapterTargets.AllProjections | AdapterTargets.Router });
            var result = FineTuner.Train(resumed, data, Short, stopped, resume: true);
            result.ResumedFrom.Should().Be(2);
            result.History.Select(r => r.Loss).Should().Equal(uninterrupted.History.Select(r => r.Loss), (a, b) => Math.Abs(a - b) <= 1e-5 * Math.Abs(b));
            var actual = ModelAdapters.TrainedState(resumed);
            actual.Keys.Should().BeEquivalentTo(expected.Keys);
            foreach (var (key, value) in expected)
                actual[key].allclose(value, 1e-5, 1e-6).Should().BeTrue($"{key}: the checkpoint restores the adapters, AdamW's moments and the balance biases, and the batches are redrawn");
        }

        [Fact]
        public void AResumeWithOtherOptionsOrAnotherMethodIsRefused()
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var checkpoint = Path.Combine(temp.Path, "checkpoint");
            var data = new TrainingWindows(Text("qwen3_moe"), Short.SequenceLength, Short.Seed);
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            ModelAdapters.Apply(model, Lora);
            FineTuner.Train(model, data, Short with { Steps = 2 }, checkpoint, resume: false);
            File.Exists(Path.Combine(checkpoint, TrainingCheckpoint.WeightsFileName)).Should().BeTrue();
            File.Exists(Path.Combine(checkpoint, TrainingCheckpoint.OptimizerFileName)).Should().BeTrue();

            var otherRate = () => FineTuner.Train(model, data, Short with { Steps = 2, LearningRate = 1e-3 }, checkpoint, resume: true);
            otherRate.Should().Throw<ArgumentException>().WithMessage("*other options*LearningRate 0.005 there, 0.001 now*");

            using var full = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            foreach (var parameter in full.parameters()) parameter.requires_grad = true;
            var otherMethod = () => FineTuner.Train(full, data, Short with { Steps = 2 }, checkpoint, resume: true);
            otherMethod.Should().Throw<ArgumentException>().WithMessage("*holds a LoRA fine-tune*prepared for a full fine-tune*");

            using var bf16 = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.BFloat16);
            foreach (var parameter in bf16.parameters()) parameter.requires_grad = true;
            var lowPrecision = () => FineTuner.Train(bf16, data, Short, Path.Combine(temp.Path, "bf16"), resume: false);
            lowPrecision.Should().Throw<InvalidOperationException>().WithMessage("'model.embed_tokens.weight' trains in BFloat16*float32 LoRA adapters on a bfloat16*");

            using var frozen = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            var nothing = () => FineTuner.Train(frozen, data, Short, Path.Combine(temp.Path, "other"), resume: false);
            nothing.Should().Throw<InvalidOperationException>().WithMessage("*no parameter*requires gradients*");
        }

        /// <summary>Reports synchronously (System.Progress posts to the thread pool, after the step that should stop the run).</summary>
        private sealed class Progress(Action<StepRecord> report) : IProgress<StepRecord>
        {
            public void Report(StepRecord value) => report(value);
        }
    }
}
