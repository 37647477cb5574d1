using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Threading;
using Microsoft.Extensions.AI;
using MoeLayers.Samples.MoeModel.Chat;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>
    /// <c>chat</c>: an interactive conversation through <see cref="MoeChatClient"/> (the IChatClient), with history. Ctrl+C
    /// stops the answer being written and keeps the conversation; Ctrl+C at the prompt, an empty line, /exit or the end of
    /// the input leaves. /reset forgets the history.
    /// </summary>
    internal static class ChatCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var dtype = ModelArguments.DType();
            var adapters = ModelArguments.Adapters();
            var system = new Option<string?>("--system") { Description = "A system message that opens the conversation." };
            var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "The most tokens per answer.", DefaultValueFactory = _ => 256 };
            var sampling = new SamplingArguments();
            var command = new Command("chat", "Talk with the model (its chat template, history kept; Ctrl+C stops an answer).") { folder, dtype, adapters, system, maxNewTokens };
            foreach (var option in sampling.All) command.Options.Add(option);
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var path = parse.GetValue(folder)!;
                var tokenizer = ModelTokenizer.Open(path);
                var defaults = new MoeChatDefaults { MaxOutputTokens = parse.GetValue(maxNewTokens), Sampling = sampling.Resolve(parse, path) };
                using IChatClient client = new MoeChatClient(ModelArguments.Load(path, ModelArguments.ParseDType(parse.GetValue(dtype)!), parse.GetValue(adapters)), tokenizer, defaults, ownsModel: true);
                var history = new List<ChatMessage>();
                if (parse.GetValue(system) is { Length: > 0 } text) history.Add(new ChatMessage(ChatRole.System, text));
                CancellationTokenSource? answering = null;
                var leave = false;
                ConsoleCancelEventHandler onCancel = (_, e) =>
                {
                    e.Cancel = true;
                    if (Volatile.Read(ref answering) is { } running) running.Cancel();
                    else leave = true;
                };
                Console.CancelKeyPress += onCancel;
                try
                {
                    Console.Error.WriteLine("type a message; /reset forgets the conversation, /exit or an empty line leaves");
                    while (!leave)
                    {
                        Console.Write("> ");
                        var line = Console.ReadLine();
                        if (leave || line is null || line.Length == 0 || line == "/exit") break;
                        if (line == "/reset")
                        {
                            history.RemoveAll(m => m.Role != ChatRole.System);
                            continue;
                        }
                        history.Add(new ChatMessage(ChatRole.User, line));
                        using var cancel = new CancellationTokenSource();
                        Volatile.Write(ref answering, cancel);
                        var answer = new System.Text.StringBuilder();
                        try
                        {
                            foreach (var update in Stream(client, history, cancel.Token))
                            {
                                Console.Write(update.Text);
                                answer.Append(update.Text);
                            }
                            Console.WriteLine();
                        }
                        catch (OperationCanceledException)
                        {
                            Console.WriteLine(" [stopped]");
                        }
                        finally
                        {
                            Volatile.Write(ref answering, null);
                        }
                        history.Add(new ChatMessage(ChatRole.Assistant, answer.ToString()));
                    }
                }
                finally
                {
                    Console.CancelKeyPress -= onCancel;
                }
                return 0;
            }));
            return command;
        }

        private static IEnumerable<ChatResponseUpdate> Stream(IChatClient client, IList<ChatMessage> history, CancellationToken cancellationToken)
        {
            var updates = client.GetStreamingResponseAsync(history, cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (updates.MoveNextAsync().AsTask().GetAwaiter().GetResult()) yield return updates.Current;
            }
            finally
            {
                updates.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
    }
}
