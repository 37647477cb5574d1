using System;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>Python's str methods as the chat templates call them (strip / lstrip / rstrip, split()[0] / [-1]).</summary>
internal static class PythonStrings
{
    /// <summary>Python's str.isspace for one character (it counts U+001C..U+001F, .NET does not).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    /// <summary>str.strip() with no argument: Python whitespace on both sides.</summary>
    public static string Strip(string s)
    {
        int start = 0;
        int end = s.Length;
        while (start < end && IsSpace(s[start]))
        {
            start++;
        }
        while (end > start && IsSpace(s[end - 1]))
        {
            end--;
        }
        return s[start..end];
    }

    /// <summary>str.strip(c) / lstrip(c) / rstrip(c) for one character.</summary>
    public static string Strip(string s, char c, bool left = true, bool right = true)
    {
        int start = 0;
        int end = s.Length;
        while (left && start < end && s[start] == c)
        {
            start++;
        }
        while (right && end > start && s[end - 1] == c)
        {
            end--;
        }
        return s[start..end];
    }

    /// <summary>s.split(separator)[0]: the text before the first separator (all of s when absent).</summary>
    public static string BeforeFirst(string s, string separator)
    {
        int i = s.IndexOf(separator, StringComparison.Ordinal);
        return i < 0 ? s : s[..i];
    }

    /// <summary>s.split(separator)[-1]: the text after the last separator (all of s when absent).</summary>
    public static string AfterLast(string s, string separator)
    {
        int i = s.LastIndexOf(separator, StringComparison.Ordinal);
        return i < 0 ? s : s[(i + separator.Length)..];
    }
}
