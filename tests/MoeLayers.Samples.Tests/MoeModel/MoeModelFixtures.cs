using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers.Interop;
using MoeLayers.Samples.MoeModel;
using MoeLayers.Samples.MoeModel.Generation;
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

        /// <summary>
        /// Greedy decoding by the sample's <see cref="TextGenerator"/>, <paramref name="steps"/> tokens with no stop id,
        /// with a KV cache (the prompt once, then one token per forward) or recomputing the whole sequence each step.
        /// </summary>
        public static long[] Greedy(MoeCausalLM model, Tensor prompt, int steps, bool useCache)
        {
            var ids = prompt[0].data<long>().Select(id => (int)id).ToArray();
            var options = new GenerationOptions { MaxNewTokens = steps, UseCache = useCache };
            return new TextGenerator(model).Generate(ids, options).Select(t => (long)t.Id).ToArray();
        }
    }
}
