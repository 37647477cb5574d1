// samples/MoeModel: a whole Hugging Face MoE model in .NET. This minimal entry point exercises the decoder: it loads
// a model folder (default: the bundled tiny qwen3_moe) and greedily continues a few token ids. The full command set
// (generate, chat, export, perplexity) is the integration's.
using System;
using System.IO;
using System.Linq;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

var folder = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "data", "moe-models", "qwen3_moe");
var progress = new Progress<LoadProgress>(p => { if (p.Done == p.Total) Console.WriteLine($"loaded {p.Total} steps ({p.Step})"); });
using var model = MoeCausalLM.Load(folder, ScalarType.Float32, progress);
var config = model.Config;
Console.WriteLine($"{config.ModelType}: {config.NumLayers} layers, d = {config.HiddenSize}, vocab {config.VocabSize}, MoE layers [{string.Join(", ", config.Moe.MoeLayerIndices)}]");
using var cache = model.NewCache();
var ids = new long[] { 1, 2, 3, 4 }.ToList();
using var prompt = tensor(ids.ToArray()).unsqueeze(0);
var logits = model.Forward(prompt, cache);
for (var step = 0; step < 8; step++)
{
    var next = logits[0, -1].argmax().item<long>();
    ids.Add(next);
    logits.Dispose();
    using var input = tensor(new[] { next }).unsqueeze(0);
    logits = model.Forward(input, cache);
}
logits.Dispose();
Console.WriteLine($"greedy continuation: {string.Join(" ", ids)}");
