using System;
using MoeLayers.Samples.Mnist.Data;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Tests
{
    /// <summary>Small slices of the bundled MNIST, loaded once for every training test.</summary>
    public sealed class MnistSubsets : IDisposable
    {
        public MnistSubsets()
        {
            Train = MnistTensors.From(MnistDataset.Load(MnistDataset.DefaultFolder, MnistSplit.Train), 1000);
            Test = MnistTensors.From(MnistDataset.Load(MnistDataset.DefaultFolder, MnistSplit.Test), 1000);
        }

        /// <summary>The first 1,000 training images.</summary>
        public MnistTensors Train { get; }

        /// <summary>The first 1,000 test images.</summary>
        public MnistTensors Test { get; }

        public void Dispose()
        {
            Train.Dispose();
            Test.Dispose();
        }
    }

    /// <summary>
    /// Tests that seed torch's global generator and train: they must not run in parallel with each other, or their
    /// random draws interleave and the determinism checks would test the scheduler.
    /// </summary>
    [CollectionDefinition(Name)]
    public sealed class TorchTrainingCollection : ICollectionFixture<MnistSubsets>
    {
        public const string Name = "Torch training";
    }
}
