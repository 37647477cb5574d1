using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// Picks the C# chat template of a model folder by config.json's model_type, after checking that the folder's own
/// Jinja chat_template (tokenizer_config.json's chat_template, or chat_template.jinja) is the published one this
/// sample transcribes. The folder's template is only compared, never executed.
/// </summary>
public static class ChatTemplates
{
    /// <summary>Substrings each published template has (Jinja source), which a different template would lack.</summary>
    private static readonly Dictionary<string, string[]> Fingerprints = new()
    {
        ["qwen3_moe"] = new[] { "'<|im_start|>' + message.role", "enable_thinking" },
        ["olmoe"] = new[] { @"'<|user|>\n' + message['content'] + '\n'" },
        ["mixtral"] = new[] { @"' [INST] ' + message['content'] + ' [/INST]'", "system_message" },
        ["gpt_oss"] = new[] { "<|start|>system<|message|>", "Reasoning: " },
        ["glm4_moe"] = new[] { "[gMASK]<sop>", "/nothink" },
    };

    /// <summary>The model types with a chat template here.</summary>
    public static IReadOnlyCollection<string> ModelTypes => Fingerprints.Keys;

    /// <summary>
    /// The chat template for <paramref name="modelType"/> if the folder's own template is the published one, otherwise
    /// null and the reason (for <see cref="ModelTokenizer.ApplyChatTemplate"/>'s error).
    /// </summary>
    public static (IChatTemplate? Template, string Unavailable) ForFolder(string folder, string modelType,
        ModelSpecialTokens specialTokens)
    {
        if (!Fingerprints.TryGetValue(modelType, out string[]? fingerprint))
        {
            return (null, $"config.json model_type '{modelType}' has no chat template in this sample (supported: {string.Join(", ", ModelTypes)}).");
        }
        (string? source, string where) = ReadFolderTemplate(folder);
        if (source is null)
        {
            return (null, $"{folder} has no chat template (tokenizer_config.json has no chat_template and there is no chat_template.jinja): a base model, not a chat model.");
        }
        string? missing = fingerprint.FirstOrDefault(marker => !source.Contains(marker, StringComparison.Ordinal));
        if (missing is not null)
        {
            return (null, $"{where} is not the published {modelType} chat template this sample reproduces in C# (it lacks {ModelFolderJson.Quote(missing)}); templates from a folder are never executed.");
        }
        if (modelType is "olmoe" or "mixtral" && specialTokens.EosToken is null)
        {
            return (null, $"tokenizer_config.json has no eos_token, which {modelType}'s chat template writes after each assistant turn.");
        }
        IChatTemplate template = modelType switch
        {
            "qwen3_moe" => new Qwen3ChatTemplate(),
            "olmoe" => new TuluChatTemplate(specialTokens.BosToken, specialTokens.EosToken!),
            "mixtral" => new MistralInstructChatTemplate(specialTokens.BosToken, specialTokens.EosToken!),
            "gpt_oss" => new HarmonyChatTemplate(),
            _ => new Glm45ChatTemplate(),
        };
        return (template, string.Empty);
    }

    private static (string? Source, string Where) ReadFolderTemplate(string folder)
    {
        const string file = "tokenizer_config.json";
        if (ModelFolderJson.ReadOptional(folder, file) is { } config && ModelFolderJson.Optional(config, "chat_template") is { } value)
        {
            if (value.ValueKind == JsonValueKind.String)
            {
                return (value.GetString(), $"{file} chat_template");
            }
            if (value.ValueKind == JsonValueKind.Array)
            {
                // A list of named templates: the one named "default" renders chats.
                int index = 0;
                foreach (JsonElement named in value.EnumerateArray())
                {
                    if (ModelFolderJson.OptionalString(named, file, $"chat_template[{index}].name") == "default")
                    {
                        return (ModelFolderJson.RequiredString(named, file, $"chat_template[{index}].template"),
                            $"{file} chat_template[{index}]");
                    }
                    index++;
                }
                return (null, file);
            }
            throw new InvalidDataException($"{file}: 'chat_template' must be a string or a list of {{name, template}}, not {value.ValueKind}.");
        }
        string jinja = Path.Combine(folder, "chat_template.jinja");
        return File.Exists(jinja) ? (File.ReadAllText(jinja), "chat_template.jinja") : (null, file);
    }
}
