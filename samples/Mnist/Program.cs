using System;
using System.IO;
using MoeLayers.Samples.Mnist.Cli;
using Spectre.Console;

namespace MoeLayers.Samples.Mnist
{
    internal static class Program
    {
        private static int Main(string[] args)
        {
            // Every step allocates the same large tensors again: reuse their memory instead of faulting fresh pages in.
            CpuMemory.ReuseFreedMemory();
            var root = MnistCommand.Create(Guarded(SingleRun.Execute), Guarded(SweepCommand.Execute));
            return root.Parse(args).Invoke();
        }

        /// <summary>Turns the expected failures (missing or corrupt data, a failed download) into a message and exit code 1.</summary>
        private static Func<SampleOptions, int> Guarded(Func<SampleOptions, int> action) => options =>
        {
            try
            {
                return action(options);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or System.Net.Http.HttpRequestException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 1;
            }
        };
    }
}
