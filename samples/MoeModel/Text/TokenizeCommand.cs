using System;
using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// <c>tokenize &lt;model-folder&gt; &lt;text&gt;</c>: prints the folder's tokenizer kind and library, the ids of the text,
/// their decoding, and the text rendered as a user message by the folder's chat template.
/// </summary>
public static class TokenizeCommand
{
    /// <summary>Runs the command; returns the process exit code.</summary>
    public static int Run(string folder, string text)
    {
        using ModelTokenizer tokenizer = ModelTokenizer.Open(folder);
        IReadOnlyList<int> ids = tokenizer.Encode(text);
        Console.WriteLine($"{tokenizer.ModelType}: {tokenizer.Kind} through {tokenizer.EncodingLibrary}, {tokenizer.VocabularySize} ids, eos [{string.Join(", ", tokenizer.EosTokenIds)}]");
        Console.WriteLine($"ids:     [{string.Join(", ", ids)}]");
        Console.WriteLine($"decoded: {tokenizer.Decode(ids)}");
        if (tokenizer.ChatTemplate is not null)
        {
            string prompt = tokenizer.ApplyChatTemplate(new[] { new ChatTurn(ChatTurn.User, text) });
            Console.WriteLine($"chat prompt ({tokenizer.Encode(prompt, addSpecialTokens: false).Count} tokens):");
            Console.WriteLine(prompt);
        }
        return 0;
    }
}
