using System;
using System.Collections.Generic;
using System.Text;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// GLM-4.5's chat template: [gMASK]&lt;sop&gt;, then &lt;|system|&gt;\n…, &lt;|user|&gt;\n… (with "/nothink" appended
/// when enable_thinking is false), &lt;|assistant|&gt; followed by a think block (its reasoning only after the last
/// user turn, else empty) and the stripped content; the generation prompt is &lt;|assistant|&gt; (plus an empty think
/// block when enable_thinking is false). Transcribed from zai-org/GLM-4.5's chat_template as quoted verbatim in
/// fw-ai's cookbook (training/tests/unit/test_glm5_renderer.py) and ggml-org/llama.cpp models/templates/glm_4_5.jinja
/// (commit 623f3dd), which agree on everything but tool calls.
/// </summary>
public sealed class Glm45ChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string ModelType => "glm4_moe";

    /// <inheritdoc />
    public string Render(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options)
    {
        ChatTurnChecks.Check(ModelType, messages, options, ChatTurnChecks.PlainRoles, readsThinking: true);
        int lastUserIndex = -1;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == ChatTurn.User)
            {
                lastUserIndex = i;
            }
        }
        bool noThinking = options.EnableThinking == false;
        var text = new StringBuilder("[gMASK]<sop>");
        for (int i = 0; i < messages.Count; i++)
        {
            ChatTurn turn = messages[i];
            switch (turn.Role)
            {
                case ChatTurn.User:
                    text.Append("<|user|>\n").Append(turn.Content);
                    if (noThinking && !turn.Content.EndsWith("/nothink", StringComparison.Ordinal))
                    {
                        text.Append("/nothink");
                    }
                    break;
                case ChatTurn.System:
                    text.Append("<|system|>\n").Append(turn.Content);
                    break;
                default:
                    string content = turn.Content;
                    string reasoning = string.Empty;
                    if (content.Contains("</think>", StringComparison.Ordinal))
                    {
                        reasoning = PythonStrings.Strip(PythonStrings.AfterLast(
                            PythonStrings.Strip(PythonStrings.BeforeFirst(content, "</think>"), '\n', left: false), "<think>"),
                            '\n', right: false);
                        content = PythonStrings.Strip(PythonStrings.AfterLast(content, "</think>"), '\n', right: false);
                    }
                    text.Append("<|assistant|>");
                    text.Append(i > lastUserIndex && reasoning.Length > 0
                        ? "\n<think>" + PythonStrings.Strip(reasoning) + "</think>"
                        : "\n<think></think>");
                    string stripped = PythonStrings.Strip(content);
                    if (stripped.Length > 0)
                    {
                        text.Append('\n').Append(stripped);
                    }
                    break;
            }
        }
        if (options.AddGenerationPrompt)
        {
            text.Append("<|assistant|>");
            if (noThinking)
            {
                text.Append("\n<think></think>");
            }
        }
        return text.ToString();
    }
}
