using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// One sparse-MoE block of a Hugging Face checkpoint in and out of a <see cref="MoeLayer"/>: each family's published
    /// key names and layouts (per expert, or fused 3-D) mapped to MoeLayers' stacked [E, in, out] expert parameters, both
    /// directions. A layer prefix such as "model.layers.3." selects the block of a full-model file; only its tensors are
    /// read. For a whole model folder (sharded, with its schedule) use <see cref="HfCheckpoint"/>.
    /// </summary>
    public static class HfMoeBlock
    {
        /// <summary>Builds the layer the config describes and loads the block at <paramref name="layerPrefix"/> into it.</summary>
        /// <param name="weightsPath">A .safetensors file holding the block (a whole model, or one shard that holds the block).</param>
        /// <param name="config">The model's config.</param>
        /// <param name="layerPrefix">The decoder layer's prefix, e.g. "model.layers.0." (the block's own name is found).</param>
        /// <param name="strict">Refuse tensors under the block's prefix that the layer has no place for.</param>
        public static MoeLayer Load(string weightsPath, HfMoeConfig config, string layerPrefix = "model.layers.0.", bool strict = true)
        {
            ArgumentNullException.ThrowIfNull(config);
            var layer = new MoeLayer(config.ToOptions(), "moe");
            LoadInto(layer, weightsPath, config, layerPrefix, strict);
            return layer;
        }

        /// <summary>
        /// Loads the block into an existing layer. Every key, shape and dtype is checked, and every tensor read, before
        /// anything is copied: a missing key, an unexpected key (strict), a wrong shape or an unreadable file throws naming
        /// the key, the expected and the actual shape, and the layer is left exactly as it was.
        /// </summary>
        /// <param name="layer">A layer built from <see cref="HfMoeConfig.ToOptions"/> (or equivalent options).</param>
        /// <param name="weightsPath">The .safetensors file.</param>
        /// <param name="config">The model's config.</param>
        /// <param name="layerPrefix">The decoder layer's prefix, e.g. "model.layers.0.".</param>
        /// <param name="strict">Refuse unexpected tensors under the block's prefix.</param>
        /// <returns>The layout the checkpoint used.</returns>
        public static HfExpertLayout LoadInto(MoeLayer layer, string weightsPath, HfMoeConfig config, string layerPrefix = "model.layers.0.", bool strict = true)
        {
            ArgumentNullException.ThrowIfNull(layer);
            ArgumentNullException.ThrowIfNull(config);
            ArgumentNullException.ThrowIfNull(layerPrefix);
            var (checkpoint, tensors) = HfWeights.Open(weightsPath, config.Fp8BlockSize);
            using (checkpoint) return LoadFrom(layer, tensors, config, layerPrefix, new HfLoadOptions { Strict = strict });
        }

        /// <summary>
        /// Writes the layer as the block of a Hugging Face checkpoint at <paramref name="layerPrefix"/>, atomically (temp
        /// file, then rename), in the family's published names.
        /// </summary>
        /// <param name="layer">The layer (built from the config's options).</param>
        /// <param name="weightsPath">The .safetensors file to write.</param>
        /// <param name="config">The model's config (its family decides the names).</param>
        /// <param name="layerPrefix">The decoder layer's prefix.</param>
        /// <param name="layout">Per-expert tensors (what most checkpoints hold) or the fused 3-D ones.</param>
        /// <param name="dtype">Storage dtype (float32, float16 or bfloat16); a balance bias stays float32 as published.</param>
        public static void Save(MoeLayer layer, string weightsPath, HfMoeConfig config, string layerPrefix = "model.layers.0.",
            HfExpertLayout layout = HfExpertLayout.PerExpert, ScalarType dtype = ScalarType.Float32)
        {
            ArgumentNullException.ThrowIfNull(layer);
            ArgumentNullException.ThrowIfNull(config);
            ArgumentNullException.ThrowIfNull(layerPrefix);
            using var scope = NewDisposeScope();
            var tensors = Published(layer, config, layerPrefix, layout, dtype);
            SafetensorsWriter.Write(weightsPath, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }

        /// <summary>Maps block-relative Hugging Face tensors (names after the block prefix) to MoeLayers state-dict tensors.</summary>
        /// <param name="block">Tensors named as in the checkpoint after the block prefix, e.g. "gate.weight", "experts.0.w1.weight".</param>
        /// <param name="config">The model's config.</param>
        /// <param name="layout">How the experts are stored.</param>
        public static Dictionary<string, Tensor> ToMoeLayers(IReadOnlyDictionary<string, Tensor> block, HfMoeConfig config, HfExpertLayout layout)
        {
            ArgumentNullException.ThrowIfNull(block);
            ArgumentNullException.ThrowIfNull(config);
            return ToState(key => block.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"the block has no '{key}'."), config, layout);
        }

        /// <summary>Maps a MoeLayers state dict to block-relative Hugging Face tensors (the inverse of <see cref="ToMoeLayers"/>).</summary>
        /// <param name="state">The layer's state dict.</param>
        /// <param name="config">The model's config.</param>
        /// <param name="layout">How to store the experts.</param>
        public static Dictionary<string, Tensor> FromMoeLayers(IReadOnlyDictionary<string, Tensor> state, HfMoeConfig config, HfExpertLayout layout)
        {
            ArgumentNullException.ThrowIfNull(state);
            ArgumentNullException.ThrowIfNull(config);
            Tensor Get(string key) => state.TryGetValue(key, out var t) ? t.detach()
                : throw new KeyNotFoundException($"the layer has no '{key}'; was it built from this config's options?");
            var family = config.Family.Layout(config);
            var block = new Dictionary<string, Tensor> { [family.Router.Weight] = Get("router.weight") };
            if (config.RouterBias) block[Required(family.Router.Bias, "router bias", config)] = Get("router.bias");
            if (config.HasBalanceBias)
            {
                var bias = Get("router.correction_bias");
                block[Required(family.Router.CorrectionBias, "balance bias", config)] = family.Router.CorrectionBiasIsRow ? bias.unsqueeze(0) : bias;
            }
            family.Codec(layout, config.Architecture).Encode(Get, config, block);
            if (config.SharedExperts > 0) Required(family.Shared, "shared experts", config).Encode(Get, config, block);
            return block;
        }

        /// <summary>The layer's block as full checkpoint keys under <paramref name="layerPrefix"/>, in the storage dtype.</summary>
        internal static Dictionary<string, Tensor> Published(MoeLayer layer, HfMoeConfig config, string layerPrefix, HfExpertLayout layout, ScalarType dtype)
        {
            if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"dtype must be Float32, Float16 or BFloat16; got {dtype}.");
            var family = config.Family.Layout(config);
            var block = layerPrefix + family.Codec(layout, config.Architecture).BlockName;
            return FromMoeLayers(layer.state_dict(), config, layout)
                .ToDictionary(kv => block + kv.Key, kv => kv.Value.to(StorageDType(family, kv.Key, dtype)));
        }

        /// <summary>
        /// The dtype a block tensor is saved in: <paramref name="dtype"/>, except what the family publishes in float32
        /// whatever the model's dtype (a balance bias; ERNIE's gate).
        /// </summary>
        internal static ScalarType StorageDType(HfBlockLayout family, string blockKey, ScalarType dtype) =>
            blockKey == family.Router.CorrectionBias || (family.Router.WeightIsFloat32 && blockKey == family.Router.Weight) ? ScalarType.Float32 : dtype;

        /// <summary>
        /// Loads the block of decoder layer <paramref name="layerPrefix"/> from <paramref name="source"/>: the layout is
        /// found by its keys, every key and shape checked, every tensor read (and, when asked, checked finite) before the
        /// layer changes.
        /// </summary>
        internal static HfExpertLayout LoadFrom(MoeLayer layer, IHfTensorSource source, HfMoeConfig config, string layerPrefix, HfLoadOptions options)
        {
            using var scope = NewDisposeScope();
            var (state, layout) = Prepare(layer, source, config, layerPrefix, options);
            MoeStateDict.Load(layer, state, strict: true);
            return layout;
        }

        /// <summary>
        /// The layer's state read from the block at <paramref name="layerPrefix"/> (tensors in the caller's dispose scope),
        /// after checking every key and shape, and the layout found; nothing is copied into the layer.
        /// </summary>
        internal static (Dictionary<string, Tensor> State, HfExpertLayout Layout) Prepare(MoeLayer layer, IHfTensorSource source, HfMoeConfig config,
            string layerPrefix, HfLoadOptions options)
        {
            var family = config.Family.Layout(config);
            var codec = FindCodec(source, family, config, layerPrefix);
            var block = layerPrefix + codec.BlockName;
            var expected = ExpectedShapes(config, family, codec).ToDictionary(s => block + s.Key, s => s.Shape);
            var problems = new List<StateDictProblem>();
            foreach (var (key, shape) in expected)
            {
                var name = key.Substring(block.Length);
                if (!source.TryGetShape(key, out var actual)) problems.Add(new StateDictProblem(StateDictProblemKind.MissingKey, name, key, shape));
                else if (!actual.SequenceEqual(shape)) problems.Add(new StateDictProblem(StateDictProblemKind.ShapeMismatch, name, key, shape, actual));
            }
            if (options.Strict)
            {
                var scopes = StrictScopes(block, codec.BlockName, expected.Keys);
                foreach (var key in source.Keys.Where(k => scopes.Any(s => k.StartsWith(s, StringComparison.Ordinal)) && !expected.ContainsKey(k)))
                {
                    source.TryGetShape(key, out var actual);
                    problems.Add(new StateDictProblem(StateDictProblemKind.UnexpectedKey, key.Substring(block.Length), key, null, actual));
                }
            }
            if (problems.Count > 0) throw new StateDictMismatchException(source.Location, problems);

            var target = layer.parameters().Select(p => p.dtype).FirstOrDefault(d => d != ScalarType.Float32, ScalarType.Float32);
            var hf = new Dictionary<string, Tensor>();
            foreach (var key in expected.Keys)
            {
                var tensor = source.Read(key, target);
                if (options.CheckFinite && !tensor.isfinite().all().item<bool>())
                    throw new InvalidDataException($"{source.LocationOf(key)}: tensor '{key}' holds NaN or infinite values.");
                hf[key.Substring(block.Length)] = tensor;
            }
            return (ToState(k => hf[k], config, codec.Layout), codec.Layout);
        }

        /// <summary>Throws naming each key whose shape the layer does not share with <paramref name="state"/> (a layer built from other options).</summary>
        internal static void CheckFits(MoeLayer layer, IReadOnlyDictionary<string, Tensor> state)
        {
            var own = layer.state_dict();
            var problems = state.Where(kv => !own.TryGetValue(kv.Key, out var t) || !t.shape.SequenceEqual(kv.Value.shape))
                .Select(kv => own.TryGetValue(kv.Key, out var t)
                    ? new StateDictProblem(StateDictProblemKind.ShapeMismatch, kv.Key, kv.Key, t.shape, kv.Value.shape)
                    : new StateDictProblem(StateDictProblemKind.UnexpectedKey, kv.Key, kv.Key, null, kv.Value.shape))
                .Concat(own.Keys.Where(k => !state.ContainsKey(k)).Select(k => new StateDictProblem(StateDictProblemKind.MissingKey, k, k, own[k].shape)))
                .ToList();
            if (problems.Count > 0) throw new StateDictMismatchException(layer.GetName(), problems);
        }

        private static Dictionary<string, Tensor> ToState(Func<string, Tensor> get, HfMoeConfig config, HfExpertLayout layout)
        {
            var family = config.Family.Layout(config);
            var state = new Dictionary<string, Tensor> { ["router.weight"] = get(family.Router.Weight) };
            if (config.RouterBias) state["router.bias"] = get(Required(family.Router.Bias, "router bias", config));
            if (config.HasBalanceBias) state["router.correction_bias"] = get(Required(family.Router.CorrectionBias, "balance bias", config)).reshape(config.NumExperts);
            family.Codec(layout, config.Architecture).Decode(get, config, state);
            if (config.SharedExperts > 0) Required(family.Shared, "shared experts", config).Decode(get, config, state);
            return state;
        }

        /// <summary>Every tensor the block holds in one layout, block-relative, with its published shape.</summary>
        internal static IEnumerable<(string Key, long[] Shape)> ExpectedShapes(HfMoeConfig c, HfBlockLayout family, HfExpertsCodec codec)
        {
            long d = c.HiddenSize, e = c.NumExperts;
            yield return (family.Router.Weight, new[] { e, d });
            if (c.RouterBias) yield return (Required(family.Router.Bias, "router bias", c), new[] { e });
            if (c.HasBalanceBias) yield return (Required(family.Router.CorrectionBias, "balance bias", c), family.Router.CorrectionBiasIsRow ? new[] { 1, e } : new[] { e });
            foreach (var shape in codec.Shapes(c)) yield return shape;
            if (c.SharedExperts > 0)
            {
                foreach (var shape in Required(family.Shared, "shared experts", c).Shapes(c)) yield return shape;
            }
        }

        /// <summary>
        /// The key prefixes whose unexpected tensors strictness refuses: the block; or, for a family whose MoE parts sit side
        /// by side in the decoder layer (Granite's block_sparse_moe and shared_mlp, block name ""), each of those modules,
        /// so that the layer's attention and norms are not taken for strays.
        /// </summary>
        private static string[] StrictScopes(string block, string blockName, IEnumerable<string> expectedKeys) =>
            blockName.Length > 0
                ? new[] { block }
                : expectedKeys.Select(k => block + k.Substring(block.Length).Split('.')[0] + ".").Distinct().ToArray();

        /// <summary>The layout whose identifying key the source holds under <paramref name="layerPrefix"/>.</summary>
        private static HfExpertsCodec FindCodec(IHfTensorSource source, HfBlockLayout family, HfMoeConfig config, string layerPrefix)
        {
            foreach (var codec in family.Experts)
            {
                if (source.TryGetShape(layerPrefix + codec.BlockName + codec.ProbeKey, out _)) return codec;
            }
            var blocks = family.Experts.Select(c => layerPrefix + c.BlockName).Distinct().ToArray();
            if (blocks.Any(b => source.Keys.Any(k => k.StartsWith(b, StringComparison.Ordinal)))) return family.Experts[0];
            throw new InvalidDataException(
                $"{source.Location} holds no MoE block under '{layerPrefix}' ({config.Architecture}: looked for {string.Join(" and ", blocks.Select(b => $"'{b}'"))}); " +
                $"its first keys are: {string.Join(", ", source.Keys.Take(5))}.");
        }

        private static T Required<T>(T? part, string what, HfMoeConfig config) where T : class =>
            part ?? throw new InvalidOperationException($"The {config.Architecture} family names no {what} tensors, but the config asks for them.");
    }
}
