using System;
using System.Collections.Generic;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Mixtral-Instruct's chat template: {bos} [INST] system\n\nuser [/INST] assistant{eos} [INST] … [/INST], roles
/// alternating after an optional system message, which joins the first user turn. add_generation_prompt changes
/// nothing (the prompt already ends in [/INST]). Transcribed from mistralai/Mixtral-8x7B-Instruct-v0.1's current
/// tokenizer_config.json chat_template (the version with the system-message branch).
/// </summary>
/// <param name="bosToken">tokenizer_config.json's bos_token.</param>
/// <param name="eosToken">tokenizer_config.json's eos_token.</param>
public sealed class MistralInstructChatTemplate(string? bosToken, string eosToken) : IChatTemplate
{
    /// <inheritdoc />
    public string ModelType => "mixtral";

    /// <inheritdoc />
    public string Render(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options)
    {
        ChatTurnChecks.Check(ModelType, messages, options, ChatTurnChecks.PlainRoles, readsFirstMessage: true);
        string? systemMessage = messages.Count > 0 && messages[0].Role == ChatTurn.System ? messages[0].Content : null;
        int first = systemMessage is null ? 0 : 1;
        var text = new StringBuilder(bosToken ?? string.Empty);
        for (int i = first; i < messages.Count; i++)
        {
            ChatTurn turn = messages[i];
            int index = i - first;
            // The published template's raise_exception checks and messages, in its order.
            if ((turn.Role == ChatTurn.User) != (index % 2 == 0))
            {
                throw new ArgumentException(
                    "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...",
                    nameof(messages));
            }
            if (turn.Role == ChatTurn.System)
            {
                throw new ArgumentException(
                    "Only user and assistant roles are supported, with the exception of an initial optional system message!",
                    nameof(messages));
            }
            if (turn.Role == ChatTurn.User)
            {
                text.Append(" [INST] ");
                if (index == 0 && systemMessage is not null)
                {
                    text.Append(systemMessage).Append("\n\n");
                }
                text.Append(turn.Content).Append(" [/INST]");
            }
            else
            {
                text.Append(' ').Append(turn.Content).Append(eosToken);
            }
        }
        return text.ToString();
    }
}
