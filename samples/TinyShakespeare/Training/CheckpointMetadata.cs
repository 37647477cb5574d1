using System.Collections.Generic;
using MoeLayers.Samples.TinyShakespeare.Model;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>Everything in a checkpoint besides the tensors: enough to rebuild the model and continue training.</summary>
    public sealed record CheckpointMetadata
    {
        /// <summary>The model shape.</summary>
        public required ModelConfig Model { get; init; }

        /// <summary>The training budget and schedule.</summary>
        public required TrainingSettings Training { get; init; }

        /// <summary>The vocabulary, characters in id order.</summary>
        public required string Alphabet { get; init; }

        /// <summary>Optimizer steps done.</summary>
        public required int Iteration { get; init; }

        /// <summary>Loss estimates so far.</summary>
        public required IReadOnlyList<EvaluationPoint> History { get; init; }

        /// <summary>Seconds spent in training steps so far.</summary>
        public required double TrainingSeconds { get; init; }

        /// <summary>The preset the run started from, or null.</summary>
        public string? Preset { get; init; }

        /// <summary>Where the training text came from.</summary>
        public string? DataSource { get; init; }
    }
}
