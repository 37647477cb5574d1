using System;
using MoeLayers.Samples.Mnist.Data;

namespace MoeLayers.Samples.Mnist
{
    internal static class Program
    {
        private static int Main()
        {
            var (train, test) = MnistDataset.LoadTrainAndTest(MnistDataset.DefaultFolder);
            Console.WriteLine($"MNIST: {train.Count} training and {test.Count} test images of {train.PixelsPerImage} pixels.");
            Console.WriteLine("Training comes later.");
            return 0;
        }
    }
}
