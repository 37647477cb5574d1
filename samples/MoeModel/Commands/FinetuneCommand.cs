using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using MoeLayers.Samples.MoeModel.Evaluation;
using MoeLayers.Samples.MoeModel.Generation;
using MoeLayers.Samples.MoeModel.Text;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>
    /// <c>finetune</c>: continues training a model folder on a text file, LoRA or full, and writes the adapters in PEFT's
    /// format (or the whole model as a Hugging Face folder), the loss curve, the checkpoint and a summary with the
    /// validation perplexity before and after.
    /// </summary>
    internal static class FinetuneCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var dtype = ModelArguments.DType();
            var data = new Option<string>("--data")
            {
                Description = "A UTF-8 text file to train on; default: the bundled tiny-shakespeare text.",
                DefaultValueFactory = _ => TextArguments.BundledText,
            };
            var maxCharacters = new Option<int>("--max-characters") { Description = "Read at most this many characters of the file (0 = all).", DefaultValueFactory = _ => 0 };
            var validationFraction = new Option<double>("--validation-fraction") { Description = "The share of the tokens, at the end of the text, kept for perplexity and never trained on.", DefaultValueFactory = _ => 0.1 };
            var evalTokens = new Option<int>("--eval-tokens") { Description = "Score at most this many validation tokens.", DefaultValueFactory = _ => 8192 };
            var output = new Option<string>("--output") { Description = "The run's folder: checkpoint/, adapters/ (LoRA) or model/ (full), loss.png, loss.csv, summary.json.", Required = true };
            var method = new Option<string>("--method") { Description = "lora (adapters on a frozen model) or full (every parameter).", DefaultValueFactory = _ => "lora" };
            var rank = new Option<int>("--rank") { Description = "LoRA rank r.", DefaultValueFactory = _ => 8 };
            var alpha = new Option<double>("--alpha") { Description = "LoRA α (scale α/r).", DefaultValueFactory = _ => 16 };
            var rsLora = new Option<bool>("--rslora") { Description = "Scale by α/√r (rsLoRA)." };
            var targets = new Option<string>("--targets") { Description = "Comma-separated LoRA targets: attention, experts, dense, router.", DefaultValueFactory = _ => "attention,experts,dense" };
            var steps = new Option<int>("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => 200 };
            var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward.", DefaultValueFactory = _ => 8 };
            var sequenceLength = new Option<int>("--sequence-length") { Description = "Tokens per sequence.", DefaultValueFactory = _ => 128 };
            var accumulation = new Option<int>("--accumulation") { Description = "Forwards per optimizer step (gradient accumulation).", DefaultValueFactory = _ => 1 };
            var learningRate = new Option<double>("--lr") { Description = "Peak learning rate (AdamW).", DefaultValueFactory = _ => 2e-4 };
            var minRatio = new Option<double>("--min-lr-ratio") { Description = "Final learning rate as a share of the peak (cosine decay).", DefaultValueFactory = _ => 0.1 };
            var warmup = new Option<int>("--warmup") { Description = "Linear warmup steps.", DefaultValueFactory = _ => 10 };
            var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW's decoupled weight decay.", DefaultValueFactory = _ => 0 };
            var maxGradNorm = new Option<double>("--max-grad-norm") { Description = "Clip the gradients' global norm to this.", DefaultValueFactory = _ => 1 };
            var seed = new Option<int>("--seed") { Description = "Seed of the batches and of the adapters' initialization.", DefaultValueFactory = _ => 0 };
            var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint every this many steps (and after the last; on Ctrl+C too).", DefaultValueFactory = _ => 50 };
            var evalEvery = new Option<int>("--eval-every") { Description = "Score the validation tokens every this many steps (and after the last); 0 never.", DefaultValueFactory = _ => 50 };
            var logEvery = new Option<int>("--log-every") { Description = "Print a progress line every this many steps.", DefaultValueFactory = _ => 10 };
            var resume = new Option<bool>("--resume") { Description = "Continue from OUTPUT/checkpoint with the same options." };
            var command = new Command("finetune", "Fine-tune the model on a text file (LoRA or full), with checkpoints, a loss plot and perplexity before and after.")
            {
                folder, dtype, data, maxCharacters, validationFraction, evalTokens, output, method, rank, alpha, rsLora, targets, steps, batchSize,
                sequenceLength, accumulation, learningRate, minRatio, warmup, weightDecay, maxGradNorm, seed, checkpointEvery, evalEvery, logEvery, resume,
            };
            command.SetAction((parse, cancellationToken) => System.Threading.Tasks.Task.FromResult(CommandErrors.Run(() =>
            {
                var path = parse.GetValue(folder)!;
                var options = new FineTuneOptions
                {
                    Steps = parse.GetValue(steps),
                    BatchSize = parse.GetValue(batchSize),
                    SequenceLength = parse.GetValue(sequenceLength),
                    GradientAccumulation = parse.GetValue(accumulation),
                    LearningRate = parse.GetValue(learningRate),
                    MinLearningRateRatio = parse.GetValue(minRatio),
                    WarmupSteps = parse.GetValue(warmup),
                    WeightDecay = parse.GetValue(weightDecay),
                    MaxGradNorm = parse.GetValue(maxGradNorm),
                    Seed = parse.GetValue(seed),
                    CheckpointEvery = parse.GetValue(checkpointEvery),
                    EvaluateEvery = parse.GetValue(evalEvery),
                };
                options.Validate();
                var methodName = parse.GetValue(method)!.ToLowerInvariant();
                if (methodName is not ("lora" or "full")) throw new ArgumentException($"--method must be lora or full; got '{methodName}'.", nameof(method));
                var settings = methodName == "lora"
                    ? new AdapterSettings(parse.GetValue(rank), parse.GetValue(alpha), parse.GetValue(rsLora), ParseTargets(parse.GetValue(targets)!))
                    : null;
                settings?.Validate();
                var computeType = ModelArguments.ParseDType(parse.GetValue(dtype)!);
                if (settings is null && computeType != ScalarType.Float32)
                    throw new ArgumentException($"--method full trains every weight in its dtype, and AdamW's small updates round away in {computeType}: use --dtype f32, or LoRA (float32 adapters on a {computeType} base).", nameof(dtype));
                var fraction = parse.GetValue(validationFraction);
                if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(validationFraction), fraction, "--validation-fraction must be in (0, 1).");
                var logInterval = parse.GetValue(logEvery);
                if (logInterval < 1) throw new ArgumentOutOfRangeException(nameof(logEvery), logInterval, "--log-every must be ≥ 1.");
                var maxEval = parse.GetValue(evalTokens);
                if (maxEval < 2) throw new ArgumentOutOfRangeException(nameof(evalTokens), maxEval, "--eval-tokens must be ≥ 2.");

                var textPath = parse.GetValue(data)!;
                var text = TextArguments.Read(textPath, parse.GetValue(maxCharacters), "--data");
                using var tokenizer = ModelTokenizer.Open(path);
                var tokens = tokenizer.Encode(text, addSpecialTokens: false).ToArray();
                var trainCount = (int)Math.Round(tokens.Length * (1 - fraction));
                var training = tokens[..trainCount];
                var validation = tokens[trainCount..].Take(maxEval).ToArray();
                if (validation.Length < 2) throw new ArgumentException($"--data: the validation split holds {validation.Length} tokens; use a longer text or a larger --validation-fraction.", nameof(data));
                var windows = new TrainingWindows(training, options.SequenceLength, options.Seed);

                var outputFolder = parse.GetValue(output)!;
                Directory.CreateDirectory(outputFolder);
                var checkpoint = Path.Combine(outputFolder, "checkpoint");
                using var model = ModelArguments.Load(path, computeType);
                var modelParameters = model.parameters().Sum(p => p.numel());
                var modelBytes = model.parameters().Sum(p => p.numel() * p.ElementSize);
                var evalWindow = Math.Min(options.SequenceLength, validation.Length);
                var before = Perplexity.Measure(model, validation, evalWindow, evalWindow, cancellationToken: cancellationToken);
                Console.WriteLine($"{text.Length} characters: {training.Length} training tokens, {validation.Length} validation tokens; perplexity before: {before.Perplexity:F3}");

                manual_seed(options.Seed);
                if (settings is not null) ModelAdapters.Apply(model, settings);
                else foreach (var parameter in model.parameters()) parameter.requires_grad = true;
                var trained = ModelAdapters.TrainedTensors(model);
                var trainedParameters = trained.Values.Sum(t => t.numel());
                var trainedBytes = trained.Values.Sum(t => t.numel() * t.ElementSize);
                Console.WriteLine($"{methodName}: training {trainedParameters:N0} of {modelParameters:N0} parameters ({100.0 * trainedParameters / modelParameters:F2}%), "
                    + $"{options.Steps} steps of {options.TokensPerStep} tokens");

                var progress = new InlineProgress<StepRecord>(r =>
                {
                    if (r.Step == 1 || r.Step % logInterval == 0 || r.Step == options.Steps || r.ValidationLoss is not null)
                        Console.WriteLine($"step {r.Step}/{options.Steps}: loss {r.Loss:F4}, aux {r.AuxiliaryLoss:F5}, lr {r.LearningRate:E2}, grad norm {r.GradientNorm:F3}, {r.TokensPerSecond:F0} tokens/s"
                            + (r.ValidationLoss is { } v ? $"; validation loss {v:F4} (perplexity {Math.Exp(v):F2})" : ""));
                });
                var result = FineTuner.Train(model, windows, options, checkpoint, parse.GetValue(resume), progress, validation, cancellationToken);
                var peakMemory = GenerationStatistics.PeakMemoryNow();
                var history = result.History;
                if (history.Count > 0)
                {
                    LossPlot.SaveCsv(Path.Combine(outputFolder, "loss.csv"), history);
                    LossPlot.SavePng(Path.Combine(outputFolder, "loss.png"), history, $"{model.Config.ModelType} {methodName} fine-tune on {Path.GetFileName(textPath)}");
                }
                if (result.Cancelled)
                {
                    Console.Error.WriteLine($"cancelled after step {history.Count}; the checkpoint is in {checkpoint}: run again with --resume to continue.");
                    return 130;
                }

                // The last step scored the validation tokens the same way (FineTuner: windows of the training length) unless
                // --eval-every 0 turned that off.
                var afterPerplexity = Math.Exp(history[^1].ValidationLoss
                    ?? Perplexity.Measure(model, validation, evalWindow, evalWindow, cancellationToken: cancellationToken).NegativeLogLikelihood);
                var saved = settings is not null ? Path.Combine(outputFolder, "adapters") : Path.Combine(outputFolder, "model");
                if (settings is not null) PeftAdapterFolder.Save(saved, model.Config, ModelAdapters.TrainedTensors(model), settings, Path.GetFullPath(path));
                else model.Save(saved, path);
                var thisRun = history.Skip(result.ResumedFrom).ToList();
                var summary = new FineTuneSummary(model.Config.ModelType, methodName, computeType.ToString(), settings, options,
                    training.Length, validation.Length, before.Perplexity, afterPerplexity, trainedParameters, modelParameters, trainedBytes, modelBytes,
                    Median(thisRun.Select(r => r.Seconds)), Median(thisRun.Select(r => r.CpuSeconds)), Median(thisRun.Select(r => r.TokensPerSecond)), peakMemory);
                AtomicWrites.ReplaceFile(Path.Combine(outputFolder, "summary.json"),
                    JsonSerializer.SerializeToUtf8Bytes(summary, new JsonSerializerOptions { WriteIndented = true, Converters = { new JsonStringEnumConverter() } }));
                Console.WriteLine($"perplexity {before.Perplexity:F3} → {afterPerplexity:F3}; median step {summary.MedianStepSeconds:F3} s wall, {summary.MedianCpuSeconds:F3} s CPU ({summary.MedianTokensPerSecond:F0} tokens/s); "
                    + $"peak memory while training {summary.PeakMemoryBytes / (1024.0 * 1024):F0} MiB; wrote {saved}, loss.png, loss.csv, summary.json");
                return 0;
            })));
            return command;
        }

        /// <summary>attention, experts, dense, router (comma-separated) as flags.</summary>
        internal static AdapterTargets ParseTargets(string text)
        {
            var targets = AdapterTargets.None;
            foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                targets |= name.ToLowerInvariant() switch
                {
                    "attention" => AdapterTargets.Attention,
                    "experts" => AdapterTargets.Experts,
                    "dense" => AdapterTargets.DenseMlp,
                    "router" => AdapterTargets.Router,
                    _ => throw new ArgumentException($"--targets: '{name}' is not one of attention, experts, dense, router.", nameof(text)),
                };
            }
            return targets;
        }

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            if (sorted.Length == 0) return 0;
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
