using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.MoeModel;

/// <summary>
/// samples/MoeModel's entry point. For now one command exercises the text side:
/// <c>tokenize &lt;model-folder&gt; &lt;text&gt;</c> prints the ids, the decoded text and the chat prompt of the text as a
/// user message. (generate / chat / export / perplexity come with the integration.)
/// </summary>
public static class Program
{
    /// <summary>Runs the sample.</summary>
    public static int Main(string[] args)
    {
        if (args.Length != 3 || args[0] != "tokenize")
        {
            Console.Error.WriteLine("usage: MoeLayers.Samples.MoeModel tokenize <model-folder> <text>");
            return 2;
        }
        using ModelTokenizer tokenizer = ModelTokenizer.Open(args[1]);
        IReadOnlyList<int> ids = tokenizer.Encode(args[2]);
        Console.WriteLine($"{tokenizer.ModelType}: {tokenizer.Kind} through {tokenizer.EncodingLibrary}, {tokenizer.VocabularySize} ids, eos [{string.Join(", ", tokenizer.EosTokenIds)}]");
        Console.WriteLine($"ids:     [{string.Join(", ", ids)}]");
        Console.WriteLine($"decoded: {tokenizer.Decode(ids)}");
        if (tokenizer.ChatTemplate is not null)
        {
            string prompt = tokenizer.ApplyChatTemplate(new[] { new ChatTurn(ChatTurn.User, args[2]) });
            Console.WriteLine($"chat prompt ({tokenizer.Encode(prompt, addSpecialTokens: false).Count} tokens):");
            Console.WriteLine(prompt);
        }
        return 0;
    }
}
