using System;
using System.Globalization;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// How <see cref="FineTuner"/> trains: the batches (sequences of <see cref="SequenceLength"/> tokens, <see cref="BatchSize"/>
    /// per forward, <see cref="GradientAccumulation"/> forwards per optimizer step), AdamW's learning rate under a linear
    /// warmup then cosine decay (<see cref="LearningRateSchedule"/>), weight decay, gradient clipping, and the seed that
    /// fixes every batch (so a resumed run draws what the uninterrupted one would have).
    /// </summary>
    public sealed record FineTuneOptions
    {
        /// <summary>Optimizer steps, at least 1. Default 200.</summary>
        public int Steps { get; init; } = 200;

        /// <summary>Sequences per forward, at least 1. Default 8.</summary>
        public int BatchSize { get; init; } = 8;

        /// <summary>Tokens per sequence (each predicts its next token), at least 2. Default 128.</summary>
        public int SequenceLength { get; init; } = 128;

        /// <summary>Forwards (micro-batches) whose gradients are summed per optimizer step, at least 1. Default 1.</summary>
        public int GradientAccumulation { get; init; } = 1;

        /// <summary>AdamW's peak learning rate, finite and &gt; 0. Default 2e-4 (a usual LoRA rate).</summary>
        public double LearningRate { get; init; } = 2e-4;

        /// <summary>The final learning rate as a fraction of the peak, in [0, 1]. Default 0.1.</summary>
        public double MinLearningRateRatio { get; init; } = 0.1;

        /// <summary>Steps of linear warmup from lr/warmup to lr, in [0, <see cref="Steps"/>). Default 10.</summary>
        public int WarmupSteps { get; init; } = 10;

        /// <summary>AdamW's decoupled weight decay, finite and ≥ 0. Default 0 (PEFT and transformers' Trainer default).</summary>
        public double WeightDecay { get; init; }

        /// <summary>Clip the gradients' global L2 norm to this, finite and &gt; 0. Default 1 (transformers' Trainer default).</summary>
        public double MaxGradNorm { get; init; } = 1.0;

        /// <summary>The seed of the batches (and nothing else: the adapters' initialization is the caller's). Default 0.</summary>
        public int Seed { get; init; }

        /// <summary>Write a checkpoint every this many steps (and after the last); 0 writes only the last. Default 50.</summary>
        public int CheckpointEvery { get; init; } = 50;

        /// <summary>
        /// Score the validation tokens every this many steps (and after the last), windows of <see cref="SequenceLength"/>
        /// tokens; 0 never. Default 50. Ignored without validation tokens.
        /// </summary>
        public int EvaluateEvery { get; init; } = 50;

        /// <summary>Tokens per optimizer step: batch × sequence × accumulation.</summary>
        public long TokensPerStep => (long)BatchSize * SequenceLength * GradientAccumulation;

        /// <summary>Throws when a field is out of range, naming it and its range.</summary>
        public void Validate()
        {
            static void Require(bool ok, string field, object value, string range)
            {
                if (!ok) throw new ArgumentOutOfRangeException(field, Convert.ToString(value, CultureInfo.InvariantCulture), $"{field} must be {range}.");
            }
            Require(Steps >= 1, nameof(Steps), Steps, "≥ 1");
            Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "≥ 1");
            Require(SequenceLength >= 2, nameof(SequenceLength), SequenceLength, "≥ 2");
            Require(GradientAccumulation >= 1, nameof(GradientAccumulation), GradientAccumulation, "≥ 1");
            Require(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), LearningRate, "finite and > 0");
            Require(MinLearningRateRatio is >= 0 and <= 1, nameof(MinLearningRateRatio), MinLearningRateRatio, "in [0, 1]");
            Require(WarmupSteps >= 0 && WarmupSteps < Steps, nameof(WarmupSteps), WarmupSteps, $"in [0, Steps = {Steps})");
            Require(double.IsFinite(WeightDecay) && WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "finite and ≥ 0");
            Require(double.IsFinite(MaxGradNorm) && MaxGradNorm > 0, nameof(MaxGradNorm), MaxGradNorm, "finite and > 0");
            Require(CheckpointEvery >= 0, nameof(CheckpointEvery), CheckpointEvery, "≥ 0");
            Require(EvaluateEvery >= 0, nameof(EvaluateEvery), EvaluateEvery, "≥ 0");
        }
    }
}
