using System;
using System.IO;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare.Parallel
{
    /// <summary>
    /// Silences this process's standard output (Console and Spectre's console, which are process-wide) until disposed:
    /// the ranks other than 0 of an expert-parallel run, so that mpirun shows one copy of the run's output. Standard
    /// error stays open, and the command's error message is printed after Dispose restores the console.
    /// </summary>
    public sealed class ConsoleSilence : IDisposable
    {
        private readonly TextWriter _out;
        private readonly IAnsiConsole _console;

        private ConsoleSilence()
        {
            _out = Console.Out;
            _console = AnsiConsole.Console;
            Console.SetOut(TextWriter.Null);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                Interactive = InteractionSupport.No,
                Out = new AnsiConsoleOutput(TextWriter.Null),
            });
        }

        /// <summary>Silences standard output until the result is disposed.</summary>
        public static ConsoleSilence Begin() => new();

        /// <summary>Restores the console.</summary>
        public void Dispose()
        {
            Console.SetOut(_out);
            AnsiConsole.Console = _console;
        }
    }
}
