using System;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// The arguments the published chat templates take besides the messages. A family refuses, by name, an option its
/// template does not read.
/// </summary>
public sealed record ChatTemplateOptions
{
    /// <summary>Whether to end with the opening of an assistant turn (add_generation_prompt). Default true.</summary>
    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>Qwen3 / GLM-4.5's enable_thinking; null leaves it undefined, as when the caller does not pass it.</summary>
    public bool? EnableThinking { get; init; }

    /// <summary>gpt-oss's reasoning_effort ("low", "medium", "high"); null is the template's default, medium.</summary>
    public string? ReasoningEffort { get; init; }

    /// <summary>gpt-oss's model_identity; null is the template's default ChatGPT identity line.</summary>
    public string? ModelIdentity { get; init; }

    /// <summary>gpt-oss's "Current date" (its template calls strftime_now); null is today, local time.</summary>
    public DateOnly? CurrentDate { get; init; }
}
