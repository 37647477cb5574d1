using System;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>How a model is trained: budget, batch, optimizer and evaluation schedule. Stored in checkpoints.</summary>
    public sealed record TrainingSettings
    {
        /// <summary>Optimizer steps in total (a resumed run continues up to this number).</summary>
        public int Iterations { get; init; }

        /// <summary>Blocks per batch B.</summary>
        public int BatchSize { get; init; }

        /// <summary>AdamW learning rate (constant).</summary>
        public double LearningRate { get; init; }

        /// <summary>AdamW decoupled weight decay (PyTorch's default 0.01).</summary>
        public double WeightDecay { get; init; } = 0.01;

        /// <summary>Estimate train and validation loss every this many iterations (and after the last).</summary>
        public int EvalInterval { get; init; }

        /// <summary>Batches per split in the periodic estimates.</summary>
        public int EvalBatches { get; init; }

        /// <summary>Batches per split in the final estimate.</summary>
        public int FinalEvalBatches { get; init; }

        /// <summary>Seed of the initial weights, the batches, dropout and router noise.</summary>
        public int Seed { get; init; } = 1337;

        /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad field.</summary>
        public void Validate()
        {
            Positive(Iterations, nameof(Iterations));
            Positive(BatchSize, nameof(BatchSize));
            Positive(EvalInterval, nameof(EvalInterval));
            Positive(EvalBatches, nameof(EvalBatches));
            Positive(FinalEvalBatches, nameof(FinalEvalBatches));
            if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
                throw new ArgumentException($"{nameof(LearningRate)} must be a positive number; got {LearningRate}.", nameof(LearningRate));
            if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
                throw new ArgumentException($"{nameof(WeightDecay)} must be at least 0; got {WeightDecay}.", nameof(WeightDecay));
        }

        private static void Positive(int value, string name)
        {
            if (value < 1) throw new ArgumentException($"{name} must be at least 1; got {value}.", name);
        }
    }
}
