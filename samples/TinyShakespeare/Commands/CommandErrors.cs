using System;
using System.IO;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare.Commands
{
    /// <summary>Turns the expected failures of a command (bad options, missing or malformed files) into a red message and exit code 1.</summary>
    internal static class CommandErrors
    {
        public static int Run(Func<int> action)
        {
            try
            {
                return action();
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
                return 1;
            }
        }
    }
}
