using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using MoeLayers.Samples.MoeModel.Evaluation;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// Continues training a <see cref="MoeCausalLM"/> on a token stream: whatever requires gradients is trained (LoRA
    /// adapters after <see cref="ModelAdapters.Apply"/>, every parameter for a full fine-tune), by AdamW on the next-token
    /// cross-entropy plus the MoE layers' auxiliary losses (<see cref="MoeCausalLM.TrainingForward"/>; the coefficient is
    /// the config's router_aux_loss_coef), with the aux-loss-free balance biases moved after every optimizer step
    /// (<see cref="MoeLoadBalancing.AfterOptimizerStep"/>), gradient accumulation, clipping, a warmup-cosine schedule and
    /// atomic checkpoints that a later run resumes exactly.
    /// </summary>
    public static class FineTuner
    {
        /// <summary>
        /// Trains for <see cref="FineTuneOptions.Steps"/> optimizer steps, or, with <paramref name="resume"/>, the steps the
        /// checkpoint in <paramref name="checkpointFolder"/> has not done yet (its options and adapter settings must equal
        /// these; its trainable parameters and optimizer state are restored first). Writes the checkpoint every
        /// <see cref="FineTuneOptions.CheckpointEvery"/> steps, after the last, and on cancellation (then returns early).
        /// The model is in training mode during the run and in eval mode after it.
        /// </summary>
        /// <param name="model">The model, with its trainable parameters chosen.</param>
        /// <param name="data">The training batches.</param>
        /// <param name="options">Steps, batches, optimizer and schedule; <see cref="FineTuneOptions.SequenceLength"/> and <see cref="FineTuneOptions.Seed"/> must be <paramref name="data"/>'s.</param>
        /// <param name="checkpointFolder">The checkpoint folder (its parent must exist).</param>
        /// <param name="resume">Continue from the checkpoint in <paramref name="checkpointFolder"/>.</param>
        /// <param name="progress">Receives each step as it ends, or null.</param>
        /// <param name="validation">Held-out token ids scored every <see cref="FineTuneOptions.EvaluateEvery"/> steps (in eval mode, without autograd), or null.</param>
        /// <param name="cancellationToken">Stops the run between steps.</param>
        public static FineTuneResult Train(MoeCausalLM model, TrainingWindows data, FineTuneOptions options, string checkpointFolder, bool resume,
            IProgress<StepRecord>? progress = null, IReadOnlyList<int>? validation = null, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(data);
            ArgumentNullException.ThrowIfNull(options);
            ArgumentNullException.ThrowIfNull(checkpointFolder);
            options.Validate();
            if (data.SequenceLength != options.SequenceLength || data.Seed != options.Seed)
                throw new ArgumentException(
                    $"the batches are drawn for sequences of {data.SequenceLength} with seed {data.Seed}; the options say {options.SequenceLength} and {options.Seed}.", nameof(data));
            var trainable = model.parameters().Where(p => p.requires_grad).ToList();
            if (trainable.Count == 0)
                throw new InvalidOperationException("no parameter of the model requires gradients: apply LoRA adapters (ModelAdapters.Apply) or unfreeze the parameters to train.");
            // AdamW updates a parameter in its own dtype: in bfloat16 an update below 2⁻⁸ of the weight rounds away.
            if (model.named_parameters().FirstOrDefault(p => p.parameter.requires_grad && p.parameter.dtype is not (ScalarType.Float32 or ScalarType.Float64)) is { name: { } name } low)
                throw new InvalidOperationException(
                    $"'{name}' trains in {low.parameter.dtype}, where AdamW's small updates round away: fine-tune every parameter of a float32 model, "
                    + "or train float32 LoRA adapters on a bfloat16 or float16 base.");

            using var optimizer = optim.AdamW(trainable, options.LearningRate, weight_decay: options.WeightDecay);
            var history = new List<StepRecord>();
            var start = 0;
            if (resume)
            {
                var saved = TrainingCheckpoint.ReadState(checkpointFolder);
                RequireSameRun(saved, options, model.Adapters, checkpointFolder);
                TrainingCheckpoint.Restore(checkpointFolder, model, optimizer);
                history.AddRange(saved.History);
                start = saved.CompletedSteps;
            }

            model.train();
            try
            {
                for (var step = start; step < options.Steps; step++)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        if (step > start) TrainingCheckpoint.Save(checkpointFolder, model, optimizer, new TrainerState(step, options, model.Adapters, history));
                        return new FineTuneResult(history, start, Cancelled: true);
                    }
                    var record = Step(model, optimizer, trainable, data, options, step);
                    var done = step + 1;
                    if (validation is { Count: >= 2 } && options.EvaluateEvery > 0 && (done % options.EvaluateEvery == 0 || done == options.Steps))
                        record = record with { ValidationLoss = ValidationLoss(model, validation, options.SequenceLength) };
                    history.Add(record);
                    progress?.Report(record);
                    if (done == options.Steps || (options.CheckpointEvery > 0 && done % options.CheckpointEvery == 0))
                        TrainingCheckpoint.Save(checkpointFolder, model, optimizer, new TrainerState(done, options, model.Adapters, history));
                }
            }
            finally
            {
                model.eval();
            }
            return new FineTuneResult(history, start, Cancelled: false);
        }

        /// <summary>One optimizer step: the micro-batches' forwards and backwards, clipping, AdamW, the balance biases.</summary>
        private static StepRecord Step(MoeCausalLM model, AdamW optimizer, IReadOnlyList<Parameter> trainable, TrainingWindows data, FineTuneOptions options, int step)
        {
            var watch = Stopwatch.StartNew();
            var cpuStart = CpuTime();
            var learningRate = LearningRateSchedule.At(step, options);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
            optimizer.zero_grad();
            double loss = 0, auxiliary = 0;
            for (var micro = 0; micro < options.GradientAccumulation; micro++)
            {
                using var scope = NewDisposeScope();
                var batch = data.Batch(step, micro, options.BatchSize);
                var inputs = batch.narrow(1, 0, options.SequenceLength);
                var targets = batch.narrow(1, 1, options.SequenceLength).reshape(-1);
                var (logits, aux) = model.TrainingForward(inputs);
                var crossEntropy = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), targets.to(logits.device));
                ((crossEntropy + aux) / options.GradientAccumulation).backward();
                loss += crossEntropy.item<float>() / options.GradientAccumulation;
                auxiliary += aux.item<float>() / options.GradientAccumulation;
            }
            var gradientNorm = nn.utils.clip_grad_norm_(trainable, options.MaxGradNorm);
            optimizer.step();
            MoeLoadBalancing.AfterOptimizerStep(model);
            var seconds = watch.Elapsed.TotalSeconds;
            return new StepRecord(step + 1, loss, auxiliary, learningRate, gradientNorm, seconds, (CpuTime() - cpuStart).TotalSeconds, options.TokensPerStep / seconds);
        }

        /// <summary>The mean NLL of <paramref name="tokens"/> in disjoint windows of the training length, in eval mode.</summary>
        private static double ValidationLoss(MoeCausalLM model, IReadOnlyList<int> tokens, int sequenceLength)
        {
            model.eval();
            try
            {
                var window = Math.Min(sequenceLength, tokens.Count);
                return Perplexity.Measure(model, tokens, window, window).NegativeLogLikelihood;
            }
            finally
            {
                model.train();
            }
        }

        private static TimeSpan CpuTime()
        {
            using var process = Process.GetCurrentProcess();
            return process.TotalProcessorTime;
        }

        private static void RequireSameRun(TrainerState saved, FineTuneOptions options, AdapterSettings? adapters, string folder)
        {
            if (saved.Options != options)
            {
                var differences = typeof(FineTuneOptions).GetProperties()
                    .Where(p => !Equals(p.GetValue(saved.Options), p.GetValue(options)))
                    .Select(p => $"{p.Name} {p.GetValue(saved.Options)} there, {p.GetValue(options)} now");
                throw new ArgumentException($"checkpoint '{folder}' was trained with other options; resume with the same ones: {string.Join("; ", differences)}.", nameof(options));
            }
            if (saved.Adapters != adapters)
                throw new ArgumentException(
                    $"checkpoint '{folder}' holds a {(saved.Adapters is null ? "full fine-tune" : $"LoRA fine-tune ({saved.Adapters})")}; the model is prepared for "
                    + $"{(adapters is null ? "a full fine-tune" : $"LoRA ({adapters})")}.", nameof(adapters));
            if (saved.CompletedSteps > options.Steps || saved.History.Count != saved.CompletedSteps)
                throw new InvalidDataException($"checkpoint '{folder}' records {saved.CompletedSteps} steps done and {saved.History.Count} in its history, of {options.Steps}.");
        }
    }
}
