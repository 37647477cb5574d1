using System.Collections.Generic;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>What a finished (or interrupted) training run produced.</summary>
    /// <param name="Iteration">Steps done.</param>
    /// <param name="History">Every loss estimate, including those of earlier runs this one resumed.</param>
    /// <param name="TrainingSeconds">Seconds in training steps, over all resumed runs.</param>
    /// <param name="SessionIterations">Steps done by this process (for its throughput).</param>
    /// <param name="SessionSeconds">Seconds this process spent in training steps.</param>
    /// <param name="Routing">Routing summed over the steps of this process, per layer.</param>
    /// <param name="Completed">False when cancelled before the budget was spent.</param>
    /// <param name="LastStepLoss">Cross-entropy of the last training step's (global) batch, before its update; null
    /// when this process did no step.</param>
    public sealed record TrainingResult(
        int Iteration,
        IReadOnlyList<EvaluationPoint> History,
        double TrainingSeconds,
        int SessionIterations,
        double SessionSeconds,
        IReadOnlyList<LayerRouting> Routing,
        bool Completed,
        double? LastStepLoss);
}
