using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// gpt-oss's harmony chat template: a system block (model identity, knowledge cutoff, current date, reasoning
/// effort, valid channels), the first system/developer message as a developer block "# Instructions", user turns,
/// assistant turns on the final channel (the last one ends in &lt;|return|&gt; when no generation prompt follows,
/// as for training), and &lt;|start|&gt;assistant as the generation prompt. Transcribed from openai/gpt-oss-120b's
/// chat_template as llama.cpp keeps it (models/templates/openai-gpt-oss-120b.jinja, ggml-org/llama.cpp commit b204a5a).
/// </summary>
public sealed class HarmonyChatTemplate : IChatTemplate
{
    /// <summary>The template's model_identity default.</summary>
    public const string DefaultModelIdentity = "You are ChatGPT, a large language model trained by OpenAI.";

    /// <summary>The template's reasoning_effort default.</summary>
    public const string DefaultReasoningEffort = "medium";

    private static readonly IReadOnlyCollection<string> Roles =
        new[] { ChatTurn.System, ChatTurn.Developer, ChatTurn.User, ChatTurn.Assistant };

    /// <inheritdoc />
    public string ModelType => "gpt_oss";

    /// <inheritdoc />
    public string Render(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options)
    {
        ChatTurnChecks.Check(ModelType, messages, options, Roles, readsHarmony: true, readsFirstMessage: true);
        DateOnly date = options.CurrentDate ?? DateOnly.FromDateTime(DateTime.Now);
        var text = new StringBuilder("<|start|>system<|message|>");
        text.Append(options.ModelIdentity ?? DefaultModelIdentity).Append('\n')
            .Append("Knowledge cutoff: 2024-06\n")
            .Append("Current date: ").Append(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append("\n\n")
            .Append("Reasoning: ").Append(options.ReasoningEffort ?? DefaultReasoningEffort).Append("\n\n")
            .Append("# Valid channels: analysis, commentary, final. Channel must be included for every message.")
            .Append("<|end|>");

        int first = 0;
        if (messages.Count > 0 && messages[0].Role is ChatTurn.System or ChatTurn.Developer)
        {
            first = 1;
            if (messages[0].Content.Length > 0)
            {
                text.Append("<|start|>developer<|message|># Instructions\n\n").Append(messages[0].Content).Append("\n\n<|end|>");
            }
        }
        for (int i = first; i < messages.Count; i++)
        {
            ChatTurn turn = messages[i];
            switch (turn.Role)
            {
                case ChatTurn.User:
                    text.Append("<|start|>user<|message|>").Append(turn.Content).Append("<|end|>");
                    break;
                case ChatTurn.Assistant:
                    if (turn.Content.Contains("<|channel|>analysis<|message|>", StringComparison.Ordinal)
                        || turn.Content.Contains("<|channel|>final<|message|>", StringComparison.Ordinal))
                    {
                        // The published template's raise_exception message.
                        throw new ArgumentException(
                            "You have passed a message containing <|channel|> tags in the content field. Instead of doing this, you should pass analysis messages (the string between '<|message|>' and '<|end|>') in the 'thinking' field, and final messages (the string between '<|message|>' and '<|end|>') in the 'content' field.",
                            nameof(messages));
                    }
                    bool training = i == messages.Count - 1 && !options.AddGenerationPrompt;
                    text.Append("<|start|>assistant<|channel|>final<|message|>").Append(turn.Content)
                        .Append(training ? "<|return|>" : "<|end|>");
                    break;
                default:
                    // The published template silently drops a later system/developer message; refuse rather than lose it.
                    throw new NotSupportedException(
                        $"messages[{i}] has role '{turn.Role}': gpt-oss's chat template renders a system or developer message only as the first message.");
            }
        }
        if (options.AddGenerationPrompt)
        {
            text.Append("<|start|>assistant");
        }
        return text.ToString();
    }
}
