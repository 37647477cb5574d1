using System.Collections.Generic;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Qwen3's (hybrid-thinking) chat template: &lt;|im_start|&gt;role\n…&lt;|im_end|&gt;\n turns; an assistant turn after
/// the last user turn keeps its &lt;think&gt; block, earlier ones lose it; enable_thinking=false pre-fills an empty
/// think block. Transcribed from Qwen/Qwen3-0.6B's chat_template as llama.cpp keeps it
/// (models/templates/Qwen-Qwen3-0.6B.jinja, ggml-org/llama.cpp commit e121edc); Qwen3-30B-A3B and Qwen3-235B-A22B ship
/// the same template.
/// </summary>
public sealed class Qwen3ChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string ModelType => "qwen3_moe";

    /// <inheritdoc />
    public string Render(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options)
    {
        ChatTurnChecks.Check(ModelType, messages, options, ChatTurnChecks.PlainRoles, readsThinking: true,
            readsFirstMessage: true);
        var text = new StringBuilder();
        if (messages.Count > 0 && messages[0].Role == ChatTurn.System)
        {
            text.Append("<|im_start|>system\n").Append(messages[0].Content).Append("<|im_end|>\n");
        }
        // The last user turn that is not a tool response (there are none in the plain-text subset).
        int lastQueryIndex = messages.Count - 1;
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role == ChatTurn.User)
            {
                lastQueryIndex = i;
                break;
            }
        }
        for (int i = 0; i < messages.Count; i++)
        {
            ChatTurn turn = messages[i];
            if (turn.Role == ChatTurn.User || (turn.Role == ChatTurn.System && i > 0))
            {
                text.Append("<|im_start|>").Append(turn.Role).Append('\n').Append(turn.Content).Append("<|im_end|>\n");
                continue;
            }
            if (turn.Role != ChatTurn.Assistant)
            {
                continue;
            }
            string content = turn.Content;
            string reasoning = string.Empty;
            if (content.Contains("</think>", System.StringComparison.Ordinal))
            {
                reasoning = PythonStrings.Strip(PythonStrings.AfterLast(
                    PythonStrings.Strip(PythonStrings.BeforeFirst(content, "</think>"), '\n', left: false), "<think>"),
                    '\n', right: false);
                content = PythonStrings.Strip(PythonStrings.AfterLast(content, "</think>"), '\n', right: false);
            }
            text.Append("<|im_start|>assistant\n");
            if (i > lastQueryIndex && (i == messages.Count - 1 || reasoning.Length > 0))
            {
                text.Append("<think>\n").Append(PythonStrings.Strip(reasoning, '\n')).Append("\n</think>\n\n")
                    .Append(PythonStrings.Strip(content, '\n', right: false));
            }
            else
            {
                text.Append(content);
            }
            text.Append("<|im_end|>\n");
        }
        if (options.AddGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
            if (options.EnableThinking == false)
            {
                text.Append("<think>\n\n</think>\n\n");
            }
        }
        return text.ToString();
    }
}
