namespace MoeLayers.Samples.MoeModel
{
    /// <summary>One optimizer step of a fine-tune, as <see cref="FineTuner"/> reports and checkpoints it.</summary>
    /// <param name="Step">The step, 1-based (the number of steps done once it ends).</param>
    /// <param name="Loss">The mean next-token cross-entropy over the step's micro-batches (nats per token).</param>
    /// <param name="AuxiliaryLoss">The MoE layers' auxiliary (load-balancing) losses, summed over layers, mean over micro-batches; already weighted by the config's coefficient.</param>
    /// <param name="LearningRate">The step's learning rate.</param>
    /// <param name="GradientNorm">The gradients' global L2 norm before clipping.</param>
    /// <param name="Seconds">Wall time of the step (forwards, backwards, clipping, optimizer step).</param>
    /// <param name="CpuSeconds">CPU time of the process over the step, all threads (on a shared machine, read beside <paramref name="Seconds"/>).</param>
    /// <param name="TokensPerSecond">Tokens trained on per second of the step.</param>
    /// <param name="ValidationLoss">The mean next-token cross-entropy over the validation tokens after the step, where the run scored them (<see cref="FineTuneOptions.EvaluateEvery"/>); else null.</param>
    public sealed record StepRecord(int Step, double Loss, double AuxiliaryLoss, double LearningRate, double GradientNorm, double Seconds, double CpuSeconds, double TokensPerSecond,
        double? ValidationLoss = null);
}
