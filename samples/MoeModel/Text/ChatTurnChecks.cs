using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>The checks every chat template makes before rendering: roles in its subset, options it reads.</summary>
internal static class ChatTurnChecks
{
    /// <summary>
    /// Refuses null messages, roles outside <paramref name="roles"/>, options the template does not read, and an empty
    /// conversation where the published template indexes messages[0] (<paramref name="readsFirstMessage"/>).
    /// </summary>
    public static void Check(string modelType, IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options,
        IReadOnlyCollection<string> roles, bool readsThinking = false, bool readsHarmony = false,
        bool readsFirstMessage = false)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(options);
        if (readsFirstMessage && messages.Count == 0)
        {
            throw new ArgumentException(
                $"{modelType}'s chat template reads messages[0]: it needs at least one message.", nameof(messages));
        }
        for (int i = 0; i < messages.Count; i++)
        {
            ChatTurn turn = messages[i] ?? throw new ArgumentNullException(nameof(messages), $"messages[{i}] is null.");
            if (turn.Role is null || turn.Content is null)
            {
                throw new ArgumentException($"messages[{i}] needs a role and a content (null given).", nameof(messages));
            }
            if (!roles.Contains(turn.Role))
            {
                throw new NotSupportedException(
                    $"messages[{i}] has role '{turn.Role}', outside the plain-text subset of {modelType}'s chat template "
                    + $"that this sample reproduces (roles: {string.Join(", ", roles)}; tools, tool calls and images are not supported).");
            }
        }
        if (!readsThinking && options.EnableThinking is not null)
        {
            throw new NotSupportedException($"ChatTemplateOptions.EnableThinking is not a parameter of {modelType}'s chat template.");
        }
        if (!readsHarmony)
        {
            foreach ((string name, object? value) in new (string, object?)[]
            {
                (nameof(options.ReasoningEffort), options.ReasoningEffort),
                (nameof(options.ModelIdentity), options.ModelIdentity),
                (nameof(options.CurrentDate), options.CurrentDate),
            })
            {
                if (value is not null)
                {
                    throw new NotSupportedException($"ChatTemplateOptions.{name} is not a parameter of {modelType}'s chat template (gpt-oss only).");
                }
            }
        }
    }

    /// <summary>The roles a plain system / user / assistant conversation uses.</summary>
    public static readonly IReadOnlyCollection<string> PlainRoles = new[] { ChatTurn.System, ChatTurn.User, ChatTurn.Assistant };
}
