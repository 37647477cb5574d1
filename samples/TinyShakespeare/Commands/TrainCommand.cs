using System;
using System.CommandLine;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Generation;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Parallel;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using MoeLayers.Samples.TinyShakespeare.Runtime;
using MoeLayers.Samples.TinyShakespeare.Storage;
using MoeLayers.Samples.TinyShakespeare.Training;
using Spectre.Console;
using TorchSharp;

namespace MoeLayers.Samples.TinyShakespeare.Commands
{
    /// <summary>The <c>train</c> command: trains one model, checkpoints it, plots its curves and writes its summary.</summary>
    internal static class TrainCommand
    {
        /// <summary>File name of the loss-curve plot inside the output folder.</summary>
        public const string PlotFileName = "loss.png";

        private static readonly Option<string> PresetOption = new("--preset")
        {
            Description = "Model and budget to start from: " + string.Join("; ", Preset.All.Select(p => $"{p.Name} = {p.Description}")) + ".",
            DefaultValueFactory = _ => Preset.Quick.Name,
        };

        private static readonly Option<string?> RouterOption = new("--router")
        {
            Description = "Router of every MoE layer (default: the preset's, noisy-top-k): " + RouterNames.Help,
        };

        private static readonly Option<bool> AllowFutureLeakOption = new("--allow-future-leak")
        {
            Description = "Accept routers that let a token's output depend on later tokens (expert choice). Their losses are not comparable.",
        };

        private static readonly Option<int?> IterationsOption = new("--iterations") { Description = "Optimizer steps in total (on --resume: extends the budget)." };
        private static readonly Option<int?> BatchSizeOption = new("--batch-size") { Description = "Blocks per batch." };
        private static readonly Option<double?> LearningRateOption = new("--learning-rate", "--lr") { Description = "AdamW learning rate." };
        private static readonly Option<int?> ExpertsOption = new("--experts") { Description = "Experts per MoE layer." };
        private static readonly Option<int?> TopKOption = new("--top-k") { Description = "Experts per token (default: the preset's; 1 for switch)." };
        private static readonly Option<double?> DropoutOption = new("--dropout") { Description = "Dropout probability in [0, 1)." };
        private static readonly Option<double?> CapacityFactorOption = new("--capacity-factor") { Description = "Expert capacity factor in training (default: dropless)." };
        private static readonly Option<int?> EvalIntervalOption = new("--eval-interval") { Description = "Steps between loss estimates (and checkpoints)." };
        private static readonly Option<int?> EvalBatchesOption = new("--eval-batches") { Description = "Batches per split in each periodic estimate." };
        private static readonly Option<int?> FinalEvalBatchesOption = new("--final-eval-batches") { Description = "Batches per split in the final estimate." };
        private static readonly Option<int?> SeedOption = new("--seed") { Description = "Seed of weights, batches, dropout and router noise (default 1337)." };

        private static readonly Option<string> DataOption = new("--data")
        {
            Description = "UTF-8 text file to train on (default: the bundled tiny-shakespeare).",
            DefaultValueFactory = _ => TextCorpus.DefaultPath,
        };

        private static readonly Option<string?> OutOption = new("--out")
        {
            Description = "Output folder for checkpoint.bin, loss.png and summary.json (default: runs/<preset>-<router>).",
        };

        private static readonly Option<bool> ResumeOption = new("--resume")
        {
            Description = "Continue from the checkpoint in --out (model and settings come from it; --iterations may extend the budget).",
        };

        private static readonly Option<bool> OverwriteOption = new("--overwrite")
        {
            Description = "Start afresh even if --out already holds a checkpoint (it is replaced).",
        };

        private static readonly Option<int?> ThreadsOption = new("--threads") { Description = "libtorch intra-op threads (default: all cores)." };

        private static readonly Option<bool> ExpertParallelOption = new("--expert-parallel")
        {
            Description = "Shard every MoE layer's experts over the ranks of an mpirun launch (mpirun -np W ... train --expert-parallel --router top-k): " +
                "every rank draws the same batch and trains on its B/W blocks, gradients are averaged; rank 0 prints and writes loss.png and summary.json, " +
                "every rank writes its own checkpoint.rank<r>-of-<W>.bin. Needs a router without noise (not noisy-top-k), and E and B divisible by W.",
        };

        public static Command Create()
        {
            var command = new Command("train", "Train a character-level MoE transformer; checkpoints are resumable.")
            {
                PresetOption, RouterOption, AllowFutureLeakOption, IterationsOption, BatchSizeOption, LearningRateOption,
                ExpertsOption, TopKOption, DropoutOption, CapacityFactorOption, EvalIntervalOption, EvalBatchesOption,
                FinalEvalBatchesOption, SeedOption, DataOption, OutOption, ResumeOption, OverwriteOption, ThreadsOption, ExpertParallelOption,
            };
            command.SetAction((parse, cancellation) =>
                System.Threading.Tasks.Task.FromResult(CommandErrors.Run(() => Run(parse, cancellation))));
            return command;
        }

        private static int Run(ParseResult parse, CancellationToken cancellation)
        {
            var expertParallel = parse.GetValue(ExpertParallelOption);
            ExpertParallelLaunch.ThrowIfReplicatedByMistake(
                ExpertParallelLaunch.LaunchedRanks(Environment.GetEnvironmentVariable(ExpertParallelLaunch.WorldSizeVariable)), expertParallel);
            if (!expertParallel) return Run(parse, RankShare.Whole, cancellation);
            using var communicator = ExpertParallelLaunch.CreateCommunicator();
            var share = RankShare.Of(communicator);
            // Only rank 0 prints; an error still reaches every rank's console (it is printed after the silence ends).
            using var silence = share.IsPrimary ? null : ConsoleSilence.Begin();
            return Run(parse, share, cancellation);
        }

        private static int Run(ParseResult parse, RankShare share, CancellationToken cancellation)
        {
            var threads = parse.GetValue(ThreadsOption);
            if (threads is not null)
            {
                if (threads < 1) throw new ArgumentException($"--threads must be at least 1; got {threads}.");
                torch.set_num_threads(threads.Value);
            }

            var wall = Stopwatch.StartNew();
            var resume = parse.GetValue(ResumeOption);
            var (model, corpus, settings, preset, outFolder) = resume ? PrepareResume(parse, share) : PrepareFresh(parse, share);
            var checkpointPath = Path.Combine(outFolder, Checkpoint.FileNameOf(share));
            var trainer = new Trainer(model, corpus, settings, share);
            if (resume) trainer.Resume(checkpointPath);

            DescribeRun(model, corpus, settings, preset, outFolder, trainer.Iteration, share);
            var result = ConsoleReporter.Run(trainer.Iteration, settings.Iterations,
                observer => trainer.Run(observer, checkpointPath, preset, cancellation));
            if (!result.Completed)
            {
                AnsiConsole.MarkupLine($"[yellow]Stopped at step {result.Iteration}; the checkpoint is saved. Continue with --resume --out {Markup.Escape(outFolder)}.[/]");
                return 130;
            }

            // Every rank evaluates and generates (each forward is a collective); rank 0 alone writes the run's outputs.
            var final = trainer.Evaluate(settings.FinalEvalBatches);
            var summary = Summarize(model, settings, preset, result, final, wall.Elapsed.TotalSeconds, share);
            if (share.IsPrimary)
            {
                LossPlot.SaveTrainingCurves(Path.Combine(outFolder, PlotFileName), result.History,
                    $"{RouterChoice.Of(model.Config).Name}: val {final.ValidationLoss:F3} after {result.Iteration} steps");
                AtomicFile.WriteAllText(Path.Combine(outFolder, RunSummary.FileName), JsonSerializer.Serialize(summary, Checkpoint.JsonOptions));
            }

            ConsoleReporter.WriteRoutingTable(result.Routing);
            AnsiConsole.MarkupLine(Markup.Escape((
                $"final ({settings.FinalEvalBatches} batches per split): train {final.TrainLoss:F4}, validation {final.ValidationLoss:F4}; " +
                $"{summary.SecondsPerIteration:F3} s/step, {summary.TokensPerSecond:N0} tokens/s, peak memory {summary.PeakMemoryMiB:F0} MiB")));
            var sample = new TextGenerator(model, corpus.Tokenizer).Generate("", new SamplingOptions { Length = 300, Seed = settings.Seed });
            AnsiConsole.WriteLine("sample:");
            AnsiConsole.WriteLine(sample);
            var checkpoints = share.IsExpertParallel ? $"checkpoint.rank{{0..{share.WorldSize - 1}}}-of-{share.WorldSize}.bin" : Checkpoint.FileName;
            AnsiConsole.MarkupLine($"Wrote {Markup.Escape(outFolder)}/{{{Markup.Escape(checkpoints)}, {PlotFileName}, {RunSummary.FileName}}}.");
            return 0;
        }

        private static (CharTransformer, TextCorpus, TrainingSettings, string?, string) PrepareFresh(ParseResult parse, RankShare share)
        {
            var preset = Preset.Parse(parse.GetValue(PresetOption)!);
            var routerName = parse.GetValue(RouterOption);
            var choice = routerName is null ? RouterChoice.Of(preset.Model) : RouterNames.ParseChoice(routerName, parse.GetValue(AllowFutureLeakOption));
            var settings = preset.Training with
            {
                Iterations = parse.GetValue(IterationsOption) ?? preset.Training.Iterations,
                BatchSize = parse.GetValue(BatchSizeOption) ?? preset.Training.BatchSize,
                LearningRate = parse.GetValue(LearningRateOption) ?? preset.Training.LearningRate,
                EvalInterval = parse.GetValue(EvalIntervalOption) ?? preset.Training.EvalInterval,
                EvalBatches = parse.GetValue(EvalBatchesOption) ?? preset.Training.EvalBatches,
                FinalEvalBatches = parse.GetValue(FinalEvalBatchesOption) ?? preset.Training.FinalEvalBatches,
                Seed = parse.GetValue(SeedOption) ?? preset.Training.Seed,
            };
            settings.Validate();
            var outFolder = parse.GetValue(OutOption) ?? Path.Combine("runs", $"{preset.Name}-{choice.Name}");
            // Decided together (one rank's stale file must not stop it alone while the others wait in the first collective).
            if (share.AnyRank(File.Exists(Path.Combine(outFolder, Checkpoint.FileNameOf(share)))) && !parse.GetValue(OverwriteOption))
                throw new IOException($"{outFolder} already holds a checkpoint: pass --resume to continue it, --overwrite to replace it, or another --out.");

            var corpus = TextCorpus.Load(parse.GetValue(DataOption)!, preset.Model.BlockSize);
            // A style reshapes the preset's plain layer (fine-grained experts plus a shared expert); --experts and --top-k
            // then set the routed experts of that layer.
            var shaped = LayerStyles.Apply(preset.Model with
            {
                Router = choice.Router,
                TopK = RouterNames.DefaultTopK(choice.Router, preset.Model.TopK),
            }, choice.Style);
            var config = shaped with
            {
                VocabularySize = corpus.Tokenizer.VocabularySize,
                Experts = parse.GetValue(ExpertsOption) ?? shaped.Experts,
                TopK = parse.GetValue(TopKOption) ?? shaped.TopK,
                Dropout = parse.GetValue(DropoutOption) ?? preset.Model.Dropout,
                CapacityFactor = parse.GetValue(CapacityFactorOption) ?? preset.Model.CapacityFactor,
            };
            config.Validate();
            if (share.IsExpertParallel) ExpertParallelLaunch.ThrowIfUnsupported(config, settings.BatchSize, share);
            return (Trainer.CreateModel(config, settings.Seed, share), corpus, settings, preset.Name, outFolder);
        }

        private static (CharTransformer, TextCorpus, TrainingSettings, string?, string) PrepareResume(ParseResult parse, RankShare share)
        {
            Option[] fixedOnResume =
            {
                RouterOption, BatchSizeOption, LearningRateOption, ExpertsOption, TopKOption, DropoutOption, CapacityFactorOption,
                EvalIntervalOption, EvalBatchesOption, FinalEvalBatchesOption, SeedOption, OverwriteOption,
            };
            var given = fixedOnResume.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToArray();
            if (given.Length > 0)
                throw new ArgumentException($"--resume continues the checkpoint's own settings; remove {string.Join(", ", given)} (only --iterations, --data and --threads apply).");
            var outFolder = parse.GetValue(OutOption)
                ?? throw new ArgumentException("--resume needs --out, the folder of the run to continue.");
            var checkpointPath = Path.Combine(outFolder, Checkpoint.FileNameOf(share));
            if (share.AnyRank(!File.Exists(checkpointPath)))
            {
                var other = Directory.Exists(outFolder) ? Directory.GetFiles(outFolder, "checkpoint*.bin").Select(Path.GetFileName).FirstOrDefault() : null;
                throw new FileNotFoundException(
                    (File.Exists(checkpointPath) ? $"Another rank has no checkpoint beside {checkpointPath}" : $"No checkpoint at {checkpointPath}") +
                    (other is null ? "" : $"; {outFolder} holds {other}") +
                    ". Resume a one-process run without mpirun, an expert-parallel run under mpirun with --expert-parallel and as many ranks as " +
                    "saved it (checkpoint.rank<r>-of-<W>.bin).", checkpointPath);
            }
            var metadata = Checkpoint.ReadMetadata(checkpointPath);
            var settings = metadata.Training with { Iterations = parse.GetValue(IterationsOption) ?? metadata.Training.Iterations };
            settings.Validate();
            var corpus = TextCorpus.Load(parse.GetValue(DataOption)!, metadata.Model.BlockSize, new CharTokenizer(metadata.Alphabet));
            AnsiConsole.MarkupLine($"Resuming {Markup.Escape(checkpointPath)} at step {metadata.Iteration} of {settings.Iterations}.");
            if (!share.IsExpertParallel) return (new CharTransformer(metadata.Model), corpus, settings, metadata.Preset, outFolder);
            ExpertParallelLaunch.ThrowIfUnsupported(metadata.Model, settings.BatchSize, share);
            return (new CharTransformer(metadata.Model, communicator: share.Communicator), corpus, settings, metadata.Preset, outFolder);
        }

        private static void DescribeRun(CharTransformer model, TextCorpus corpus, TrainingSettings settings, string? preset, string outFolder, int startIteration,
            RankShare share)
        {
            var c = model.Config;
            AnsiConsole.MarkupLine(Markup.Escape((
                $"data: {corpus.Source} ({corpus.Train.shape[0]:N0} train / {corpus.Validation.shape[0]:N0} validation characters, vocabulary {c.VocabularySize})")));
            AnsiConsole.MarkupLine(Markup.Escape((
                $"model ({preset ?? "custom"}): {model.ParameterCount:N0} parameters; n_embed {c.EmbedDim}, {c.Heads} heads, {c.Layers} layers, " +
                $"block {c.BlockSize}; MoE {c.Experts} experts of width {c.ExpertHiddenDim}, router {RouterNames.Display(c.Router)}, top-{c.TopK}, " +
                $"{Capacity(c)}, dropout {c.Dropout}")));
            if (c.Style != LayerStyle.Plain)
            {
                var o = c.ToMoeOptions();
                AnsiConsole.MarkupLine(Markup.Escape((
                    $"style {LayerStyles.Display(c.Style)}: {o.ScoreFunction.ToString().ToLowerInvariant()} scores, renormalize {o.RenormalizeWeights}, " +
                    $"routed scaling {o.RoutedScalingFactor}, {o.SharedExperts} shared expert(s) of width {o.EffectiveSharedHiddenDim}" +
                    $"{(o.SharedExpertGate ? " (sigmoid-gated)" : "")}, balance bias {(o.BalanceBias ? $"on (γ = {o.BalanceBiasRate})" : "off")}, " +
                    $"balance loss {o.LoadBalancingLoss} (α = {o.LoadBalancingCoefficient}), z-loss β = {o.ZLossCoefficient}")));
            }
            if (RouterNames.LeaksFutureTokens(c.Router))
                AnsiConsole.MarkupLine("[yellow]" + Markup.Escape(
                    $"warning: {RouterNames.ExpertChoiceLeak}. Trained because --allow-future-leak was given (Causal = false, no balance loss): " +
                    "the losses of this run are NOT comparable.") + "[/]");
            AnsiConsole.MarkupLine(Markup.Escape((
                $"training: steps {startIteration} → {settings.Iterations}, batch {settings.BatchSize}, AdamW lr {settings.LearningRate} " +
                $"(weight decay {settings.WeightDecay}), seed {settings.Seed}, {torch.get_num_threads()} threads " +
                $"(OMP_WAIT_POLICY {OpenMpWaitPolicy.Current}); output {outFolder}")));
            if (share.IsExpertParallel)
                AnsiConsole.MarkupLine(Markup.Escape((
                    $"expert-parallel over {share.WorldSize} rank(s): {c.Experts / share.WorldSize} experts of every MoE layer per rank, " +
                    $"{settings.BatchSize / share.WorldSize} of the batch's {settings.BatchSize} blocks per rank, gradients averaged; " +
                    (c.Dropout > 0 ? "dropout drawn per rank (not the one-process masks)" : "no dropout: the one-process run's numbers"))));
        }

        private static string Capacity(ModelConfig c) =>
            c.CapacityFactor is { } cf ? $"capacity factor {cf}"
            : RouterNames.LeaksFutureTokens(c.Router) ? "capacity factor 1 (each expert takes ceil(k·T/E) of the batch's T tokens)"
            : "dropless";

        private static RunSummary Summarize(CharTransformer model, TrainingSettings settings, string? preset, TrainingResult result,
            EvaluationPoint final, double wallSeconds, RankShare share)
        {
            var tokensPerStep = (long)settings.BatchSize * model.Config.BlockSize;
            var secondsPerStep = result.SessionIterations == 0 ? 0 : result.SessionSeconds / result.SessionIterations;
            using var process = Process.GetCurrentProcess();
            return new RunSummary
            {
                Router = RouterChoice.Of(model.Config).Name,
                TopK = model.Config.TopK,
                Experts = model.Config.Experts,
                SharedExperts = model.Config.SharedExperts,
                Seed = settings.Seed,
                Preset = preset,
                Parameters = model.ParameterCount,
                Iterations = result.Iteration,
                TokensPerStep = tokensPerStep,
                LastStepLoss = result.LastStepLoss,
                Ranks = share.WorldSize,
                FinalTrainLoss = final.TrainLoss,
                FinalValidationLoss = final.ValidationLoss,
                FinalEvalBatches = settings.FinalEvalBatches,
                SecondsPerIteration = secondsPerStep,
                TokensPerSecond = secondsPerStep == 0 ? 0 : tokensPerStep / secondsPerStep,
                WallSeconds = wallSeconds,
                PeakMemoryMiB = process.PeakWorkingSet64 / (1024.0 * 1024.0),
                Threads = torch.get_num_threads(),
                History = result.History,
                Routing = result.Routing,
            };
        }
    }
}
