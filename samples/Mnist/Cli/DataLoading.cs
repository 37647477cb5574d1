using System;
using System.Net.Http;
using MoeLayers.Samples.Mnist.Data;
using MoeLayers.Samples.Mnist.Training;
using Spectre.Console;

namespace MoeLayers.Samples.Mnist.Cli
{
    /// <summary>Loads both splits as tensors, downloading missing files first when asked.</summary>
    internal static class DataLoading
    {
        public static (MnistTensors Train, MnistTensors Test) Load(SampleOptions options)
        {
            if (options.Download)
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
                new MnistDownloader(http).DownloadMissingAsync(options.DataFolder).GetAwaiter().GetResult();
            }
            var (train, test) = MnistDataset.LoadTrainAndTest(options.DataFolder);
            if (options.Training.TrainLimit is { } limit && limit > train.Count)
                throw new ArgumentException($"--train-limit must be at most {train.Count}; got {limit}.");
            AnsiConsole.MarkupLine($"MNIST: {train.Count:N0} training and {test.Count:N0} test images of {train.PixelsPerImage} pixels" +
                (options.Training.TrainLimit is { } l ? $"; training on the first {l:N0}." : "."));
            return (MnistTensors.From(train), MnistTensors.From(test));
        }
    }
}
