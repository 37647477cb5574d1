namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>One finished epoch.</summary>
    /// <param name="Epoch">1-based epoch number.</param>
    /// <param name="TrainNetworkLoss">Mean cross-entropy over the epoch's training steps.</param>
    /// <param name="TrainGateLoss">Mean CV² load-balancing loss (before lc) over the epoch's training steps.</param>
    /// <param name="Test">The model on the test split after the epoch.</param>
    /// <param name="Seconds">Wall time of the epoch's training steps, evaluation excluded.</param>
    public sealed record EpochRecord(int Epoch, double TrainNetworkLoss, double TrainGateLoss, Evaluation Test, double Seconds);
}
