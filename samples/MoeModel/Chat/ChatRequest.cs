using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.AI;
using MoeLayers.Samples.MoeModel.Generation;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.MoeModel.Chat
{
    /// <summary>One chat call made concrete: the prompt's token ids, the generation options and the stop sequences.</summary>
    internal sealed record ChatRequest(IReadOnlyList<int> PromptIds, GenerationOptions Generation, IReadOnlyList<string> StopSequences)
    {
        /// <summary>
        /// Renders <paramref name="messages"/> with the tokenizer's chat template and maps <paramref name="options"/>; what
        /// this sample does not do (tools, non-text contents or roles, penalties, JSON response formats) is refused by name.
        /// </summary>
        public static ChatRequest From(IEnumerable<ChatMessage> messages, ChatOptions? options, MoeChatDefaults defaults, ModelTokenizer tokenizer)
        {
            ArgumentNullException.ThrowIfNull(messages);
            var turns = new List<ChatTurn>();
            if (!string.IsNullOrEmpty(options?.Instructions)) turns.Add(new ChatTurn(ChatTurn.System, options.Instructions));
            foreach (var message in messages)
            {
                if (message.Contents.FirstOrDefault(c => c is not TextContent) is { } other)
                    throw new NotSupportedException($"MoeChatClient takes text messages only; a {message.Role} message holds {other.GetType().Name}.");
                turns.Add(new ChatTurn(RoleOf(message.Role), message.Text));
            }
            if (turns.Count == 0) throw new ArgumentException("the conversation holds no message.", nameof(messages));
            if (options?.Tools is { Count: > 0 }) throw new NotSupportedException("ChatOptions.Tools: MoeChatClient does not call tools.");
            if (options?.ResponseFormat is { } format && format is not ChatResponseFormatText)
                throw new NotSupportedException("ChatOptions.ResponseFormat: MoeChatClient answers in plain text only.");
            if (options?.FrequencyPenalty is not null) throw new NotSupportedException("ChatOptions.FrequencyPenalty is not implemented by MoeChatClient.");
            if (options?.PresencePenalty is not null) throw new NotSupportedException("ChatOptions.PresencePenalty is not implemented by MoeChatClient.");
            var sampling = options?.Temperature is null && options?.TopP is null && options?.TopK is null && options?.Seed is null
                ? defaults.Sampling
                : new SamplingOptions
                {
                    Temperature = options.Temperature ?? defaults.Sampling.Temperature,
                    TopP = options.TopP ?? defaults.Sampling.TopP,
                    TopK = options.TopK ?? defaults.Sampling.TopK,
                    Seed = options.Seed ?? defaults.Sampling.Seed,
                };
            var prompt = tokenizer.Encode(tokenizer.ApplyChatTemplate(turns, defaults.Template), addSpecialTokens: false);
            var generation = new GenerationOptions
            {
                MaxNewTokens = options?.MaxOutputTokens ?? defaults.MaxOutputTokens,
                Sampling = sampling,
                StopTokenIds = tokenizer.EosTokenIds.ToArray(),
            };
            generation.Validate();
            return new ChatRequest(prompt, generation, options?.StopSequences?.ToArray() ?? Array.Empty<string>());
        }

        private static string RoleOf(ChatRole role) =>
            role == ChatRole.System ? ChatTurn.System
            : role == ChatRole.User ? ChatTurn.User
            : role == ChatRole.Assistant ? ChatTurn.Assistant
            : throw new NotSupportedException($"MoeChatClient takes system, user and assistant messages; got role '{role}'.");
    }
}
