namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>One periodic estimate of the losses.</summary>
    /// <param name="Iteration">Optimizer steps done when it was taken.</param>
    /// <param name="TrainLoss">Mean cross-entropy (nats per character) on training batches.</param>
    /// <param name="ValidationLoss">Mean cross-entropy on validation batches.</param>
    /// <param name="TrainingSeconds">Seconds spent in training steps so far (evaluation excluded).</param>
    public sealed record EvaluationPoint(int Iteration, double TrainLoss, double ValidationLoss, double TrainingSeconds);
}
