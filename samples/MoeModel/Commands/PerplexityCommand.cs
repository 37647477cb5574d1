using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using MoeLayers.Samples.MoeModel.Evaluation;
using MoeLayers.Samples.MoeModel.Text;
using Spectre.Console;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary><c>perplexity</c>: the model's perplexity over a text file, with a progress bar and tokens/s.</summary>
    internal static class PerplexityCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var dtype = ModelArguments.DType();
            var adapters = ModelArguments.Adapters();
            var file = new Option<string>("--file")
            {
                Description = "A UTF-8 text file; default: the bundled tiny-shakespeare text's first 20,000 characters.",
                DefaultValueFactory = _ => TextArguments.BundledText,
            };
            var maxCharacters = new Option<int>("--max-characters") { Description = "Read at most this many characters of the file (0 = all).", DefaultValueFactory = _ => 20_000 };
            var window = new Option<int>("--window") { Description = "Tokens per forward (the context each token can see at most).", DefaultValueFactory = _ => 256 };
            var stride = new Option<int?>("--stride") { Description = "Tokens between window starts (default: the window, disjoint windows)." };
            var command = new Command("perplexity", "Perplexity of the model over a text file (sliding window).") { folder, dtype, adapters, file, maxCharacters, window, stride };
            command.SetAction((parse, cancellationToken) => System.Threading.Tasks.Task.FromResult(CommandErrors.Run(() =>
            {
                var path = parse.GetValue(folder)!;
                var textPath = parse.GetValue(file)!;
                var text = TextArguments.Read(textPath, parse.GetValue(maxCharacters), "--file");
                using var tokenizer = ModelTokenizer.Open(path);
                var tokens = tokenizer.Encode(text).ToArray();
                var dtypeName = parse.GetValue(dtype)!;
                using var model = ModelArguments.Load(path, ModelArguments.ParseDType(dtypeName), parse.GetValue(adapters));
                var (windowTokens, strideTokens) = (parse.GetValue(window), parse.GetValue(stride) ?? parse.GetValue(window));
                PerplexityResult? result = null;
                if (AnsiConsole.Profile.Capabilities.Interactive)
                {
                    AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                        .Start(context =>
                        {
                            var task = context.AddTask($"scoring {tokens.Length} tokens", maxValue: tokens.Length - 1);
                            result = Perplexity.Measure(model, tokens, windowTokens, strideTokens, new InlineProgress<(long Scored, long Total)>(p => task.Value = p.Scored), cancellationToken);
                        });
                }
                else
                {
                    result = Perplexity.Measure(model, tokens, windowTokens, strideTokens, cancellationToken: cancellationToken);
                }
                Console.WriteLine($"{Path.GetFileName(textPath)} ({text.Length} characters, {tokens.Length} tokens), {dtypeName}, window {windowTokens}, stride {strideTokens}: {result}");
                return 0;
            })));
            return command;
        }
    }
}
