namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>Where a training run stands, reported every few steps.</summary>
    /// <param name="Epoch">1-based current epoch.</param>
    /// <param name="Step">Steps done in the current epoch.</param>
    /// <param name="StepsPerEpoch">Steps in one epoch.</param>
    /// <param name="NetworkLoss">Mean cross-entropy of the steps since the last report.</param>
    public sealed record TrainingProgress(int Epoch, int Step, int StepsPerEpoch, double NetworkLoss);
}
