using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// A Hugging Face model folder opened for its MoE layers: config.json read per family (with the schedule of which
    /// layers are MoE), the weights — one model.safetensors, or model.safetensors.index.json and its shards — read lazily,
    /// tensor by tensor, so loading one layer reads that layer and nothing else. Load one MoE layer by index, or every
    /// MoE layer of a model by its module path; <see cref="Save(string, HfMoeConfig, IReadOnlyDictionary{int, MoeLayer}, HfSaveOptions?)"/>
    /// writes layers back as a sharded folder the way Hugging Face does, atomically.
    /// </summary>
    public sealed class HfCheckpoint : IDisposable
    {
        private readonly IHfTensorSource _tensors;
        private readonly IDisposable _owner;

        private HfCheckpoint(string folder, HfMoeConfig config, IHfTensorSource tensors, IDisposable owner)
        {
            Folder = folder;
            Config = config;
            _tensors = tensors;
            _owner = owner;
        }

        /// <summary>The model folder.</summary>
        public string Folder { get; }

        /// <summary>The model's config.json, read for its MoE block and schedule.</summary>
        public HfMoeConfig Config { get; }

        /// <summary>Every tensor name of the weights (quantized tensors under their plain names).</summary>
        public IReadOnlyList<string> TensorKeys => _tensors.Keys;

        /// <summary>Reads one tensor as stored (CPU; a quantized one dequantized into bfloat16), for inspection and tests.</summary>
        /// <param name="key">The tensor's name.</param>
        public Tensor ReadTensor(string key)
        {
            ArgumentNullException.ThrowIfNull(key);
            if (!_tensors.TryGetShape(key, out _)) throw new KeyNotFoundException($"{Folder} holds no tensor '{key}'.");
            return _tensors.Read(key, ScalarType.BFloat16);
        }

        /// <summary>The decoder layers whose feed-forward block is MoE, ascending.</summary>
        public IReadOnlyList<int> MoeLayerIndices => Config.MoeLayerIndices;

        /// <summary>
        /// Opens a model folder (config.json with model.safetensors or model.safetensors.index.json and shards), an index
        /// .json path, or one .safetensors file with config.json beside it. Only headers are read here.
        /// </summary>
        /// <param name="path">The folder, the index file or the weights file.</param>
        public static HfCheckpoint Open(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            var folder = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
            var configPath = Path.Combine(folder, "config.json");
            if (!Directory.Exists(path) && !File.Exists(path))
                throw new FileNotFoundException($"Nothing at {path}; expected a model folder, its model.safetensors.index.json or a .safetensors file.", path);
            if (!File.Exists(configPath))
                throw new FileNotFoundException($"{folder} has no config.json; a Hugging Face model folder keeps it beside its weights.", configPath);
            var config = HfMoeConfig.Read(configPath);
            var (checkpoint, tensors) = HfWeights.Open(path, config.Fp8BlockSize);
            return new HfCheckpoint(checkpoint.FolderPath, config, tensors, checkpoint);
        }

        /// <summary>
        /// Builds the MoE layer of decoder layer <paramref name="layer"/> and loads it. A dense layer is refused, naming the
        /// config.json field that makes it dense. The layer is in the checkpoint's floating dtype unless
        /// <see cref="HfLoadOptions.DType"/> says otherwise; its router stays float32.
        /// </summary>
        /// <param name="layer">The decoder layer index.</param>
        /// <param name="options">Strictness, a finite check, the dtype.</param>
        public MoeLayer LoadLayer(int layer, HfLoadOptions? options = null)
        {
            options ??= new HfLoadOptions();
            RequireMoe(layer);
            var moe = new MoeLayer(Config.ToOptions(), "moe");
            var dtype = options.DType ?? StoredDType(layer);
            if (dtype != ScalarType.Float32) moe.to(dtype);
            LoadLayerInto(moe, layer, options);
            return moe;
        }

        /// <summary>
        /// Loads decoder layer <paramref name="layer"/>'s MoE block into <paramref name="target"/> (built from
        /// <see cref="HfMoeConfig.ToOptions"/>), converting into its dtype. Everything is checked and read before the
        /// layer changes.
        /// </summary>
        /// <param name="target">The layer to load into.</param>
        /// <param name="layer">The decoder layer index.</param>
        /// <param name="options">Strictness and a finite check.</param>
        /// <returns>The layout the checkpoint used.</returns>
        public HfExpertLayout LoadLayerInto(MoeLayer target, int layer, HfLoadOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(target);
            RequireMoe(layer);
            return HfMoeBlock.LoadFrom(target, _tensors, Config, Config.LayerPrefix(layer), options ?? new HfLoadOptions());
        }

        /// <summary>
        /// Loads every <see cref="MoeLayer"/> of <paramref name="model"/> whose module path is
        /// <paramref name="modulePrefix"/>{i}.… (e.g. "model.layers.3.mlp") from decoder layer i. Every layer is checked and
        /// read before any changes, so a failure leaves the model as it was.
        /// </summary>
        /// <param name="model">A model holding MoE layers.</param>
        /// <param name="modulePrefix">The path of the decoder layers' list in the model, with its trailing dot.</param>
        /// <param name="options">Strictness and a finite check.</param>
        /// <returns>The decoder layer of each loaded module, by module path.</returns>
        public IReadOnlyDictionary<string, int> LoadInto(nn.Module model, string modulePrefix = "model.layers.", HfLoadOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(modulePrefix);
            options ??= new HfLoadOptions();
            var targets = MoeLayersOf(model, modulePrefix);
            if (targets.Count == 0)
                throw new ArgumentException($"The model has no MoeLayer under '{modulePrefix}<layer>.'; its modules are: {string.Join(", ", model.named_modules().Select(m => m.name).Take(8))}.", nameof(model));
            foreach (var (path, layer) in targets.Select(t => (t.Key, t.Value.Layer))) RequireMoe(layer, path);
            var prepared = new List<(MoeLayer Target, Dictionary<string, Tensor> State)>();
            using var scope = NewDisposeScope();
            foreach (var (_, (target, layer)) in targets)
                prepared.Add((target, HfMoeBlock.Prepare(target, _tensors, Config, Config.LayerPrefix(layer), options).State));
            foreach (var (target, state) in prepared) HfMoeBlock.CheckFits(target, state);
            foreach (var (target, state) in prepared) MoeStateDict.Load(target, state, strict: true);
            return targets.ToDictionary(t => t.Key, t => t.Value.Layer);
        }

        /// <summary>
        /// The <see cref="MoeLayer"/>s of <paramref name="model"/> under <paramref name="modulePrefix"/>{i}.…, with their
        /// decoder layer i — what <see cref="LoadInto"/> loads and <see cref="Save(string, HfMoeConfig, nn.Module, string, HfSaveOptions?)"/> writes.
        /// </summary>
        /// <param name="model">A model holding MoE layers.</param>
        /// <param name="modulePrefix">The path of the decoder layers' list, with its trailing dot.</param>
        public static IReadOnlyDictionary<string, (MoeLayer Layer, int Index)> Find(nn.Module model, string modulePrefix = "model.layers.") =>
            MoeLayersOf(model, modulePrefix).ToDictionary(t => t.Key, t => (t.Value.Target, t.Value.Layer));

        /// <summary>
        /// Writes MoE layers as a Hugging Face folder: config.json (the text <paramref name="config"/> was read from, less a
        /// quantization_config, since the weights are written unquantized) and
        /// each layer's block under the family's layer prefix (model.layers.{i}.) in the family's published names, in shards of at most
        /// <see cref="HfSaveOptions.MaxShardBytes"/> with model.safetensors.index.json (one model.safetensors when it fits).
        /// The folder is written beside the target and swapped in: a failure leaves the previous folder as it was.
        /// With <see cref="HfSaveOptions.OtherTensors"/> and <see cref="HfSaveOptions.ExtraFiles"/> the same write holds
        /// the rest of the model (in state-dict order, layer by layer) and further files such as the tokenizer's.
        /// </summary>
        /// <param name="folder">The folder to write (created, or replaced as a whole).</param>
        /// <param name="config">The model's config.</param>
        /// <param name="layers">The MoE layers by decoder-layer index; each index must be an MoE layer of the schedule.</param>
        /// <param name="options">Layout, dtype, shard size, the model's other tensors and extra files.</param>
        public static void Save(string folder, HfMoeConfig config, IReadOnlyDictionary<int, MoeLayer> layers, HfSaveOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(folder);
            ArgumentNullException.ThrowIfNull(config);
            ArgumentNullException.ThrowIfNull(layers);
            options ??= new HfSaveOptions();
            foreach (var index in layers.Keys)
            {
                if (index < 0 || index >= config.NumLayers)
                    throw new ArgumentOutOfRangeException(nameof(layers), index, $"layer {index} is outside [0, num_hidden_layers = {config.NumLayers}).");
                if (config.DenseReason(index) is { } reason)
                    throw new ArgumentException($"layer {index} is dense in this config ({reason}); only MoE layers are written.", nameof(layers));
            }
            if (options.DType is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
                throw new ArgumentOutOfRangeException(nameof(options), options.DType, $"HfSaveOptions.DType must be Float32, Float16 or BFloat16; got {options.DType}.");
            var layout = options.Layout ?? config.Family.Layout(config).Experts[0].Layout;
            config.Family.Layout(config).Codec(layout, config.Architecture);
            var files = SavedFiles(config, options.ExtraFiles);
            var blocks = new PublishedBlocks(config, layout, options.DType);
            var blockSources = layers.ToDictionary(kv => kv.Key, kv => blocks.Sources(kv.Value, config.LayerPrefix(kv.Key)).ToList());
            var sources = ModelOrder(config, blockSources, options.OtherTensors ?? Array.Empty<SafetensorsTensorSource>());
            try
            {
                HfWeights.Write(folder, sources, options.MaxShardBytes, files);
            }
            finally
            {
                blocks.Dispose();
            }
        }

        /// <summary>Writes every MoE layer of <paramref name="model"/> found by <see cref="Find"/>; see the other overload.</summary>
        /// <param name="folder">The folder to write.</param>
        /// <param name="config">The model's config.</param>
        /// <param name="model">The model holding the layers.</param>
        /// <param name="modulePrefix">The path of the decoder layers' list, with its trailing dot.</param>
        /// <param name="options">Layout, dtype and shard size.</param>
        public static void Save(string folder, HfMoeConfig config, nn.Module model, string modulePrefix = "model.layers.", HfSaveOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            Save(folder, config, Find(model, modulePrefix).Values.ToDictionary(v => v.Index, v => v.Layer), options);
        }

        /// <inheritdoc />
        public void Dispose() => _owner.Dispose();

        /// <summary>
        /// The tensors in the order a model's state dict has them: the other tensors given before any layer's, then each
        /// decoder layer (its other tensors, then its MoE block), then the remaining other tensors. Refuses a key given
        /// twice or also written by a block, naming it.
        /// </summary>
        private static List<SafetensorsTensorSource> ModelOrder(HfMoeConfig config, Dictionary<int, List<SafetensorsTensorSource>> blocks,
                                                                IReadOnlyList<SafetensorsTensorSource> others)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var source in blocks.Values.SelectMany(b => b))
                seen.Add(source.Key);
            var before = new List<SafetensorsTensorSource>();
            var after = new List<SafetensorsTensorSource>();
            var perLayer = new SortedDictionary<int, List<SafetensorsTensorSource>>();
            foreach (var layer in blocks.Keys) perLayer[layer] = new List<SafetensorsTensorSource>();
            foreach (var source in others)
            {
                if (source is null) throw new ArgumentException("HfSaveOptions.OtherTensors holds a null source.", "options");
                if (!seen.Add(source.Key))
                {
                    var owner = blocks.Values.SelectMany(b => b).Any(b => b.Key == source.Key) ? "a MoE block also writes it" : "it is given twice";
                    throw new ArgumentException($"HfSaveOptions.OtherTensors: tensor '{source.Key}' cannot be written: {owner}.", "options");
                }
                var layer = LayerOf(config, source.Key);
                if (layer is { } i)
                {
                    if (!perLayer.TryGetValue(i, out var list)) perLayer[i] = list = new List<SafetensorsTensorSource>();
                    list.Add(source);
                }
                else (perLayer.Values.Any(l => l.Count > 0) ? after : before).Add(source);
            }
            var ordered = new List<SafetensorsTensorSource>(before);
            foreach (var (layer, list) in perLayer)
            {
                ordered.AddRange(list);
                if (blocks.TryGetValue(layer, out var block)) ordered.AddRange(block);
            }
            ordered.AddRange(after);
            return ordered;
        }

        /// <summary>The decoder layer whose prefix (the family's, e.g. "model.layers.3.") starts <paramref name="key"/>, or null.</summary>
        private static int? LayerOf(HfMoeConfig config, string key)
        {
            for (var i = 0; i < config.NumLayers; i++)
                if (key.StartsWith(config.LayerPrefix(i), StringComparison.Ordinal)) return i;
            return null;
        }

        /// <summary>config.json and the extra files, as the folder writer takes them; refuses a name the save itself writes.</summary>
        private static Dictionary<string, byte[]> SavedFiles(HfMoeConfig config, IReadOnlyDictionary<string, byte[]>? extra)
        {
            var files = new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["config.json"] = System.Text.Encoding.UTF8.GetBytes(SavedConfig(config)) };
            foreach (var (name, bytes) in extra ?? new Dictionary<string, byte[]>())
            {
                if (name == "config.json" || name == SafetensorsCheckpoint.IndexFileName || name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                    throw new ArgumentException($"HfSaveOptions.ExtraFiles: '{name}' is written by the save itself (config.json and the weights); pass other files only.", "options");
                files[name] = bytes ?? throw new ArgumentException($"HfSaveOptions.ExtraFiles: '{name}' has no content.", "options");
            }
            return files;
        }

        /// <summary>
        /// The config.json a save writes: the text the config was read from, less its quantization_config when there is
        /// one (the weights are written dequantized, and transformers would otherwise build quantized layers for them).
        /// </summary>
        private static string SavedConfig(HfMoeConfig config)
        {
            if (config.QuantizationMethod.Length == 0) return config.Json;
            var root = System.Text.Json.Nodes.JsonNode.Parse(config.Json)!.AsObject();
            root.Remove("quantization_config");
            return root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
        }

        private void RequireMoe(int layer, string? module = null)
        {
            var who = module is null ? "" : $" (module '{module}')";
            if (layer < 0 || layer >= Config.NumLayers)
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer{who} must be in [0, num_hidden_layers = {Config.NumLayers}); got {layer}.");
            if (Config.DenseReason(layer) is { } reason)
                throw new ArgumentException($"layer {layer}{who} of {Folder} is dense, not MoE: {reason}. Its MoE layers are {string.Join(", ", MoeLayerIndices)}.", nameof(layer));
        }

        /// <summary>The floating dtype the layer's router weight is stored in (quantized checkpoints: bfloat16).</summary>
        private ScalarType StoredDType(int layer)
        {
            // The experts' dtype, read from the key that identifies the folder's layout (not the router's: ERNIE keeps
            // its gate float32 beside bf16 experts; not the block's first key: a float32 balance bias may sort first).
            var family = Config.Family.Layout(Config);
            var probes = family.Experts.Select(c => Config.LayerPrefix(layer) + c.BlockName + c.ProbeKey).ToHashSet();
            return _tensors.StoredDType(_tensors.Keys.FirstOrDefault(probes.Contains) ?? "");
        }

        private static Dictionary<string, (MoeLayer Target, int Layer)> MoeLayersOf(nn.Module model, string modulePrefix)
        {
            var found = new Dictionary<string, (MoeLayer, int)>();
            foreach (var (path, module) in model.named_modules())
            {
                if (module is not MoeLayer moe || !path.StartsWith(modulePrefix, StringComparison.Ordinal)) continue;
                var rest = path.Substring(modulePrefix.Length);
                var end = rest.IndexOf('.');
                if (!int.TryParse(end < 0 ? rest : rest[..end], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer))
                    throw new ArgumentException($"MoeLayer '{path}' is under '{modulePrefix}' but not at '{modulePrefix}<layer index>.'.", nameof(model));
                found[path] = (moe, layer);
            }
            return found;
        }
    }
}
