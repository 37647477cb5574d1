using System;
using System.IO;
using Spectre.Console;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>Turns the expected failures of a command (bad options, missing or malformed files, unsupported models) into a red message and exit code 1.</summary>
    internal static class CommandErrors
    {
        public static int Run(Func<int> action)
        {
            try
            {
                return action();
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException or NotSupportedException)
            {
                // ArgumentException appends " (Parameter 'x')": noise for someone reading a command's error.
                var message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message;
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(message)}[/]");
                return 1;
            }
        }
    }
}
