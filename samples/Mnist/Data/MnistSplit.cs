namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>The two halves of MNIST.</summary>
    public enum MnistSplit
    {
        /// <summary>The 60,000 training examples.</summary>
        Train,

        /// <summary>The 10,000 test examples (the "t10k" files).</summary>
        Test,
    }
}
