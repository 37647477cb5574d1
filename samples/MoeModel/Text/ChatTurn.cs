namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>One plain-text message of a conversation.</summary>
/// <param name="Role">"system", "user" or "assistant" (gpt-oss also takes "developer" as its first message).</param>
/// <param name="Content">The message text. An assistant turn of Qwen3 / GLM-4.5 may carry its reasoning inline as
/// &lt;think&gt;…&lt;/think&gt;, which their templates split off as they do.</param>
public sealed record ChatTurn(string Role, string Content)
{
    /// <summary>The system role.</summary>
    public const string System = "system";

    /// <summary>The user role.</summary>
    public const string User = "user";

    /// <summary>The assistant role.</summary>
    public const string Assistant = "assistant";

    /// <summary>gpt-oss's developer role (its template treats a first system message the same way).</summary>
    public const string Developer = "developer";
}
