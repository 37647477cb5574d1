using System;
using System.CommandLine;
using System.Globalization;
using MoeLayers.Samples.MoeModel.Commands;
using Spectre.Console;

namespace MoeLayers.Samples.MoeModel
{
    internal static class Program
    {
        private static int Main(string[] args)
        {
            // Figures read the same everywhere.
            CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
            Console.OutputEncoding = System.Text.Encoding.UTF8;
            if (Console.IsOutputRedirected)
            {
                // A log: no colour codes, no live progress bars.
                AnsiConsole.Profile.Capabilities.Ansi = false;
                AnsiConsole.Profile.Capabilities.ColorSystem = ColorSystem.NoColors;
                AnsiConsole.Profile.Capabilities.Interactive = false;
            }
            var root = new RootCommand("A whole Hugging Face MoE model (qwen3_moe, olmoe, mixtral, gpt_oss, glm4_moe) in .NET, its MoE blocks computed by MoeLayers.")
            {
                GenerateCommand.Create(),
                ChatCommand.Create(),
                PerplexityCommand.Create(),
                ExportCommand.Create(),
                TokenizeCommandLine.Create(),
                BenchCommand.Create(),
                FinetuneCommand.Create(),
                MergeCommand.Create(),
                InitCommand.Create(),
            };
            return root.Parse(args).Invoke();
        }
    }
}
