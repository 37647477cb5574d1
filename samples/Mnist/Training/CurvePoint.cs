namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>Training losses averaged over a window of consecutive steps.</summary>
    /// <param name="Epochs">Training progress at the end of the window, in epochs (1.5 = halfway through the second).</param>
    /// <param name="NetworkLoss">Mean cross-entropy over the window.</param>
    /// <param name="GateLoss">Mean CV² load-balancing loss (before lc) over the window.</param>
    public sealed record CurvePoint(double Epochs, double NetworkLoss, double GateLoss);
}
