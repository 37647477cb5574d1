using System.Collections.Generic;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Mnist.Cli
{
    /// <summary>The parsed command line: where the data is, what to train, and (for a sweep) the grid.</summary>
    /// <param name="DataFolder">Folder holding the MNIST files.</param>
    /// <param name="Download">Fetch missing files first.</param>
    /// <param name="Threads">libtorch intra-op threads.</param>
    /// <param name="Router">Routing rule.</param>
    /// <param name="Experts">ne values (one for a single run).</param>
    /// <param name="TopK">k values (one for a single run).</param>
    /// <param name="LoadCoefficients">lc values (one for a single run).</param>
    /// <param name="Seeds">Seeds (one for a single run).</param>
    /// <param name="Training">Epochs, batch size, learning rate and data limit; its seed is the first of <paramref name="Seeds"/>.</param>
    /// <param name="OutputFolder">Where a sweep writes its table and plots.</param>
    public sealed record SampleOptions(
        string DataFolder,
        bool Download,
        int Threads,
        RouterKind Router,
        IReadOnlyList<int> Experts,
        IReadOnlyList<int> TopK,
        IReadOnlyList<double> LoadCoefficients,
        IReadOnlyList<int> Seeds,
        TrainingSettings Training,
        string OutputFolder);
}
