using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.TinyShakespeare.Training;

namespace MoeLayers.Samples.TinyShakespeare.Reporting
{
    /// <summary>The figures of one training run, written as summary.json next to its checkpoint.</summary>
    public sealed record RunSummary
    {
        /// <summary>File name inside the run's output folder.</summary>
        public const string FileName = "summary.json";

        /// <summary>Router, by its command-line name.</summary>
        public required string Router { get; init; }

        /// <summary>Experts per token.</summary>
        public required int TopK { get; init; }

        /// <summary>Routed experts per MoE layer (0 in summaries written before this field).</summary>
        public int Experts { get; init; }

        /// <summary>Shared experts per MoE layer.</summary>
        public int SharedExperts { get; init; }

        /// <summary>Seed of the run (0 in summaries written before this field).</summary>
        public int Seed { get; init; }

        /// <summary>Preset the run started from, or null.</summary>
        public string? Preset { get; init; }

        /// <summary>Trainable parameters.</summary>
        public required long Parameters { get; init; }

        /// <summary>Steps done.</summary>
        public required int Iterations { get; init; }

        /// <summary>Tokens per step (batch × block).</summary>
        public required long TokensPerStep { get; init; }

        /// <summary>Training-set loss estimated at the end over <see cref="FinalEvalBatches"/> batches.</summary>
        public required double FinalTrainLoss { get; init; }

        /// <summary>Validation loss estimated at the end over <see cref="FinalEvalBatches"/> batches.</summary>
        public required double FinalValidationLoss { get; init; }

        /// <summary>Batches per split of the final estimate.</summary>
        public required int FinalEvalBatches { get; init; }

        /// <summary>Mean seconds per training step in this process (evaluation excluded).</summary>
        public required double SecondsPerIteration { get; init; }

        /// <summary>Training tokens per second in this process.</summary>
        public required double TokensPerSecond { get; init; }

        /// <summary>Cross-entropy of the last training step's (global) batch, before its update (null for a run resumed at its end).</summary>
        public double? LastStepLoss { get; init; }

        /// <summary>Ranks the experts were sharded over (1: one process).</summary>
        public int Ranks { get; init; } = 1;

        /// <summary>Wall-clock seconds of this process's training, evaluations and checkpoints included.</summary>
        public required double WallSeconds { get; init; }

        /// <summary>Peak resident set size of the process, MiB.</summary>
        public required double PeakMemoryMiB { get; init; }

        /// <summary>Intra-op threads libtorch used.</summary>
        public required int Threads { get; init; }

        /// <summary>Loss estimates during training.</summary>
        public required IReadOnlyList<EvaluationPoint> History { get; init; }

        /// <summary>Routing per layer over this process's training steps.</summary>
        public required IReadOnlyList<LayerRouting> Routing { get; init; }

        /// <summary>Busiest expert's load over the mean, averaged over layers (1 = perfectly balanced).</summary>
        public double MeanMaxLoadRatio => Routing.Count == 0 ? 0 : Routing.Average(r => r.MaxMeanLoadRatio);

        /// <summary>
        /// Coefficient of variation (std / mean) of the per-expert loads summed over the run, averaged over layers
        /// (0 = perfectly balanced).
        /// </summary>
        public double MeanLoadCoefficientOfVariation => Routing.Count == 0 ? 0 : Routing.Average(r => r.LoadCoefficientOfVariation);

        /// <summary>Busiest expert's load over the mean in each step, averaged over steps and layers.</summary>
        public double MeanStepMaxLoadRatio => Routing.Count == 0 ? 0 : Routing.Average(r => r.MeanStepMaxMeanLoadRatio);

        /// <summary>Coefficient of variation of the per-expert loads in each step, averaged over steps and layers.</summary>
        public double MeanStepLoadCoefficientOfVariation => Routing.Count == 0 ? 0 : Routing.Average(r => r.MeanStepLoadCoefficientOfVariation);

        /// <summary>Dropped fraction of (token, slot) pairs, averaged over layers.</summary>
        public double MeanDroppedFraction => Routing.Count == 0 ? 0 : Routing.Average(r => r.DroppedFraction);
    }
}
