using System;

namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>How a model is trained: optimizer, batches, epochs, seed and how much data.</summary>
    /// <param name="Epochs">Passes over the training set, at least 1.</param>
    /// <param name="BatchSize">Images per optimizer step, at least 1.</param>
    /// <param name="LearningRate">Adam learning rate, &gt; 0.</param>
    /// <param name="Seed">Seeds torch (weights, router noise) and the shuffling generator.</param>
    /// <param name="TrainLimit">Use only the first this-many training images; null for all.</param>
    /// <param name="CurveInterval">Steps averaged into one point of the loss curves, at least 1.</param>
    public sealed record TrainingSettings(
        int Epochs = 5,
        int BatchSize = 64,
        double LearningRate = 2e-3,
        int Seed = 1,
        int? TrainLimit = null,
        int CurveInterval = 50)
    {
        /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field.</summary>
        public void Validate()
        {
            if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1; got {Epochs}.", nameof(Epochs));
            if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {BatchSize}.", nameof(BatchSize));
            if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
                throw new ArgumentException($"LearningRate must be a finite number > 0; got {LearningRate}.", nameof(LearningRate));
            if (TrainLimit is < 1) throw new ArgumentException($"TrainLimit must be at least 1 (or null for all); got {TrainLimit}.", nameof(TrainLimit));
            if (CurveInterval < 1) throw new ArgumentException($"CurveInterval must be at least 1; got {CurveInterval}.", nameof(CurveInterval));
        }
    }
}
