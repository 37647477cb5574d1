using System;
using System.CommandLine;
using System.Linq;
using MoeLayers.Samples.MoeModel.Generation;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary><c>generate</c>: streams a continuation of a prompt, then prefill and decode tokens/s and peak memory.</summary>
    internal static class GenerateCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var dtype = ModelArguments.DType();
            var adapters = ModelArguments.Adapters();
            var prompt = new Option<string>("--prompt") { Description = "The text to continue.", DefaultValueFactory = _ => "To be, or not to be" };
            var chat = new Option<bool>("--chat") { Description = "Send the prompt as a user message through the folder's chat template." };
            var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "The most tokens to generate.", DefaultValueFactory = _ => 64 };
            var noCache = new Option<bool>("--no-cache") { Description = "Run the whole sequence again for every token (slow; to compare with the KV cache)." };
            var sampling = new SamplingArguments();
            var command = new Command("generate", "Continue a prompt, streaming the text, then print tokens/s and peak memory.")
            {
                folder, dtype, adapters, prompt, chat, maxNewTokens, noCache,
            };
            foreach (var option in sampling.All) command.Options.Add(option);
            command.SetAction((parse, cancellationToken) => System.Threading.Tasks.Task.FromResult(CommandErrors.Run(() =>
            {
                var path = parse.GetValue(folder)!;
                using var tokenizer = ModelTokenizer.Open(path);
                var options = new GenerationOptions
                {
                    MaxNewTokens = parse.GetValue(maxNewTokens),
                    Sampling = sampling.Resolve(parse, path),
                    StopTokenIds = tokenizer.EosTokenIds.ToArray(),
                    UseCache = !parse.GetValue(noCache),
                };
                options.Validate();
                using var model = ModelArguments.Load(path, ModelArguments.ParseDType(parse.GetValue(dtype)!), parse.GetValue(adapters));
                var text = parse.GetValue(prompt)!;
                var ids = parse.GetValue(chat)
                    ? tokenizer.Encode(tokenizer.ApplyChatTemplate(new[] { new ChatTurn(ChatTurn.User, text) }), addSpecialTokens: false)
                    : tokenizer.Encode(text);
                Console.Write(parse.GetValue(chat) ? "" : text);
                var detokenizer = tokenizer.NewStreamingDetokenizer(skipSpecialTokens: true);
                GenerationStatistics? statistics = null;
                try
                {
                    foreach (var token in new TextGenerator(model).Generate(ids, options, cancellationToken))
                    {
                        Console.Write(detokenizer.Append(token.Id));
                        statistics = token.Statistics;
                    }
                }
                catch (OperationCanceledException)
                {
                    Console.Write(detokenizer.Flush());
                    Console.WriteLine();
                    Console.Error.WriteLine("cancelled");
                    return 130;
                }
                Console.WriteLine(detokenizer.Flush());
                Console.Error.WriteLine($"{statistics} ({statistics!.Finish}; sampling: {Describe(options.Sampling)})");
                return 0;
            })));
            return command;
        }

        internal static string Describe(SamplingOptions sampling) => sampling.IsGreedy
            ? "greedy"
            : $"temperature {sampling.Temperature}, top-p {sampling.TopP}, top-k {sampling.TopK}, seed {sampling.Seed}";
    }
}
