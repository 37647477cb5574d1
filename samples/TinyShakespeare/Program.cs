using System;
using System.CommandLine;
using System.Globalization;
using System.Threading.Tasks;
using MoeLayers.Samples.TinyShakespeare.Commands;
using MoeLayers.Samples.TinyShakespeare.Parallel;
using MoeLayers.Samples.TinyShakespeare.Runtime;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare
{
    internal static class Program
    {
        private static Task<int> Main(string[] args)
        {
            OpenMpWaitPolicy.ApplyPassiveDefault();
            // Every step allocates the same large tensors again: reuse their memory instead of faulting fresh pages in.
            CpuMemory.ReuseFreedMemory();
            // Figures in logs, tables and JSON read the same everywhere.
            CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
            // mpirun gives each rank a pseudo-terminal that it forwards to its own output, which is a log like any other.
            if (Console.IsOutputRedirected || Environment.GetEnvironmentVariable(ExpertParallelLaunch.WorldSizeVariable) is not null)
            {
                // Logs (nohup, compare's child runs, mpirun): no colour codes, no live progress bar, and lines that are not
                // wrapped at 80 columns.
                AnsiConsole.Profile.Capabilities.Ansi = false;
                // Without ANSI, Spectre colours through Console.ForegroundColor, which .NET writes as escape codes on a terminal.
                AnsiConsole.Profile.Capabilities.ColorSystem = ColorSystem.NoColors;
                AnsiConsole.Profile.Capabilities.Interactive = false;
                AnsiConsole.Profile.Width = 200;
            }
            var root = new RootCommand(
                "A character-level transformer whose feed-forward blocks are Mixture-of-Experts layers, trained on tiny-shakespeare.")
            {
                TrainCommand.Create(),
                GenerateCommand.Create(),
                CompareCommand.Create(),
                ExportCommand.Create(),
            };
            // Ctrl+C cancels training, which then saves a checkpoint: give it time to finish the step and the save.
            var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) };
            return root.Parse(args).InvokeAsync(invocation);
        }
    }
}
