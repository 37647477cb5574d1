using System.Collections.Generic;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// OLMoE-Instruct's chat template (AllenAI's Tulu format): {bos}&lt;|system|&gt;\n…\n&lt;|user|&gt;\n…\n
/// &lt;|assistant|&gt;\n…{eos}\n, the role tags written as plain text. Transcribed from
/// allenai/OLMoE-1B-7B-0125-Instruct's tokenizer_config.json chat_template (as quoted verbatim in allenai's Tulu 3
/// releases and e.g. the OLMo-2 instruct tokenizer configs).
/// </summary>
/// <param name="bosToken">tokenizer_config.json's bos_token (null renders as nothing, as an undefined Jinja variable).</param>
/// <param name="eosToken">tokenizer_config.json's eos_token, written after every assistant turn.</param>
public sealed class TuluChatTemplate(string? bosToken, string eosToken) : IChatTemplate
{
    /// <inheritdoc />
    public string ModelType => "olmoe";

    /// <inheritdoc />
    public string Render(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options)
    {
        ChatTurnChecks.Check(ModelType, messages, options, ChatTurnChecks.PlainRoles);
        var text = new StringBuilder(bosToken ?? string.Empty);
        for (int i = 0; i < messages.Count; i++)
        {
            ChatTurn turn = messages[i];
            bool last = i == messages.Count - 1;
            switch (turn.Role)
            {
                case ChatTurn.System:
                    text.Append("<|system|>\n").Append(turn.Content).Append('\n');
                    break;
                case ChatTurn.User:
                    text.Append("<|user|>\n").Append(turn.Content).Append('\n');
                    break;
                default:
                    text.Append("<|assistant|>\n").Append(turn.Content).Append(eosToken).Append(last ? "" : "\n");
                    break;
            }
            if (last && options.AddGenerationPrompt)
            {
                text.Append("<|assistant|>\n");
            }
        }
        return text.ToString();
    }
}
