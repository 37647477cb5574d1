namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    /// <summary>
    /// Tests that seed libtorch's global generator (model initialization, dropout, router noise) and expect the same
    /// numbers back. They run one at a time and alone: a test on another thread drawing from the generator between a
    /// seed and its use would change the numbers.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class TorchRandomCollection
    {
        public const string Name = "libtorch global generator";
    }
}
