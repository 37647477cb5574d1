using MoeLayers.Samples.Mnist.Model;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>One run of a sweep: a model configuration and a seed.</summary>
    /// <param name="Model">ne, k, lc and the router.</param>
    /// <param name="Seed">The run's seed.</param>
    public sealed record SweepCase(MnistMoeSettings Model, int Seed);
}
