using System;
using System.CommandLine;
using System.IO;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using MoeLayers.Samples.Mnist.Data;
using Spectre.Console;

namespace MoeLayers.Samples.Mnist
{
    internal static class Program
    {
        private static Task<int> Main(string[] args)
        {
            var dataOption = new Option<string>("--data")
            {
                Description = "Folder holding the MNIST files.",
                DefaultValueFactory = _ => MnistDataset.DefaultFolder,
            };
            var downloadOption = new Option<bool>("--download")
            {
                Description = "Fetch missing MNIST files from the usual mirrors first.",
            };
            var root = new RootCommand("Mixture-of-Experts on MNIST (the model and training come later).")
            {
                dataOption,
                downloadOption,
            };
            root.SetAction((parse, cancellationToken) =>
                RunAsync(parse.GetValue(dataOption)!, parse.GetValue(downloadOption), cancellationToken));
            return root.Parse(args).InvokeAsync();
        }

        private static async Task<int> RunAsync(string folder, bool download, CancellationToken cancellationToken)
        {
            try
            {
                if (download)
                {
                    using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
                    await new MnistDownloader(http).DownloadMissingAsync(folder, cancellationToken);
                }
                var (train, test) = MnistDataset.LoadTrainAndTest(folder);
                AnsiConsole.MarkupLine($"MNIST: {train.Count} training and {test.Count} test images of {train.PixelsPerImage} pixels.");
                AnsiConsole.MarkupLine("Training comes later.");
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 1;
            }
        }
    }
}
