// samples/MoeModel: a whole Hugging Face MoE model in .NET. This minimal entry point exercises the text side:
// `tokenize <model-folder> <text>` (default: the bundled tiny qwen3_moe tokenizer). The full command set (generate,
// chat, export, perplexity) is the integration's.
using System;
using System.IO;
using MoeLayers.Samples.MoeModel.Text;

if (args.Length is 0 or > 3 || args[0] != "tokenize")
{
    Console.Error.WriteLine("usage: MoeLayers.Samples.MoeModel tokenize [<model-folder>] <text>");
    return 2;
}
var folder = args.Length == 3 ? args[1] : Path.Combine(AppContext.BaseDirectory, "data", "moe-models", "tokenizers", "qwen3_moe");
return TokenizeCommand.Run(folder, args[^1]);
