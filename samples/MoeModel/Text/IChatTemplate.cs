using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// A family's chat template as C# code: for plain-text system / user / assistant messages it renders exactly what the
/// family's published Jinja chat_template renders (checked against jinja2 renderings in the tests). Tools, tool
/// calls, images and reasoning fields are outside the subset and refused by name.
/// </summary>
public interface IChatTemplate
{
    /// <summary>The config.json model_type this template belongs to.</summary>
    string ModelType { get; }

    /// <summary>Renders <paramref name="messages"/>.</summary>
    /// <exception cref="System.NotSupportedException">A role or option outside the supported subset.</exception>
    /// <exception cref="System.ArgumentException">A conversation the published template itself rejects
    /// (e.g. Mixtral's non-alternating roles), with its message.</exception>
    string Render(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions options);
}
