using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers.Interop;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The tiny model folders of scripts/moemodel/make_tiny_models.py (tests/fixtures/moe-models/NAME, copied into the
    /// output as data/moe-models) and their references (references/NAME.safetensors): a 64-token prompt, the float32
    /// logits of transformers' forward transcribed (scripts/moemodel/reference_model.py), and 32 greedy tokens computed
    /// with and without a KV cache.
    /// </summary>
    internal static class MoeModelFixtures
    {
        public static string Root => Path.Combine(AppContext.BaseDirectory, "data", "moe-models");

        public static string Folder(string name) => Path.Combine(Root, name);

        /// <summary>Every model folder (tokenizers/ and references/ are not models).</summary>
        public static IEnumerable<object[]> Names() =>
            Directory.EnumerateDirectories(Root).Select(Path.GetFileName)
                .Where(n => File.Exists(Path.Combine(Root, n!, "config.json")))
                .OrderBy(n => n, StringComparer.Ordinal).Select(n => new object[] { n! });

        public sealed record Reference(Tensor InputIds, Tensor Logits, long[] Generated, long[] GeneratedWithoutCache, IReadOnlyDictionary<string, string> Metadata);

        /// <summary>The reference tensors (in the caller's dispose scope).</summary>
        public static Reference ReferenceOf(string name)
        {
            using var file = SafetensorsFile.Open(Path.Combine(Root, "references", name + ".safetensors"));
            return new Reference(file.Read("input_ids"), file.Read("logits"), file.Read("generated_ids").data<long>().ToArray(),
                file.Read("generated_ids_no_cache").data<long>().ToArray(), file.Metadata);
        }

        /// <summary>Greedy decoding: the argmax of the last position, <paramref name="steps"/> times, with a KV cache
        /// (the prompt once, then one token per forward) or recomputing the whole sequence each step.</summary>
        public static long[] Greedy(MoeCausalLM model, Tensor prompt, int steps, bool useCache)
        {
            var tokens = new List<long>();
            using var cache = useCache ? model.NewCache() : null;
            using var scope = NewDisposeScope();
            var sequence = prompt;
            var logits = model.Forward(prompt, cache);
            for (var step = 0; step < steps; step++)
            {
                var next = logits[0, -1].argmax().item<long>();
                tokens.Add(next);
                if (step == steps - 1) break;
                var token = tensor(new[] { next }).unsqueeze(0);
                if (useCache)
                {
                    logits = model.Forward(token, cache);
                }
                else
                {
                    sequence = cat(new[] { sequence, token }, dim: 1);
                    logits = model.Forward(sequence);
                }
            }
            return tokens.ToArray();
        }
    }
}
