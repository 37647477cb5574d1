using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers.Interop;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// A fine-tune's adapters as a folder in PEFT's LoRA format — adapter_config.json and adapter_model.safetensors
    /// (float32) — that <c>PeftModel.from_pretrained(base, folder)</c> loads onto the published model in Python, and
    /// reading such a folder back. The key names and tensor layouts are <see cref="PeftAdapterTensors"/>'s (which cites
    /// PEFT's code); the config fields <see cref="PeftAdapterConfig"/>'s.
    /// </summary>
    public static class PeftAdapterFolder
    {
        /// <summary>PEFT's config file name (CONFIG_NAME).</summary>
        public const string ConfigFileName = "adapter_config.json";

        /// <summary>PEFT's weights file name (SAFETENSORS_WEIGHTS_NAME).</summary>
        public const string WeightsFileName = "adapter_model.safetensors";

        /// <summary>
        /// Writes <paramref name="adapters"/> to <paramref name="folder"/> (created, or replaced as a whole when it is empty or
        /// an adapter folder) atomically: everything is written into a hidden sibling folder that then takes its place.
        /// </summary>
        /// <param name="folder">The adapter folder; its parent must exist.</param>
        /// <param name="config">The base model's config.</param>
        /// <param name="adapters">Every adapter of <paramref name="settings"/> by the adapted <see cref="MoeCausalLM"/>'s state-dict names: model.layers.{i}.self_attn.q_proj.lora_A.weight …, model.layers.{i}.mlp.experts.lora.a_in …, router.weight when the routers are trained, and router.correction_bias where the family has a balance bias (<see cref="ModelAdapters.TrainedTensors"/> gives exactly these).</param>
        /// <param name="settings">Rank, α, rsLoRA and targets.</param>
        /// <param name="baseModelNameOrPath">The base model's Hub id or path written as base_model_name_or_path, or null.</param>
        /// <returns>How the routed experts were written.</returns>
        /// <exception cref="ArgumentException">A key is missing or unexpected, or a shape differs from what <paramref name="config"/> and <paramref name="settings"/> give (the message names each).</exception>
        public static PeftExpertEncoding Save(string folder, MoeModelConfig config, IReadOnlyDictionary<string, Tensor> adapters, AdapterSettings settings, string? baseModelNameOrPath)
        {
            ArgumentException.ThrowIfNullOrEmpty(folder);
            ArgumentNullException.ThrowIfNull(config);
            ArgumentNullException.ThrowIfNull(adapters);
            ArgumentNullException.ThrowIfNull(settings);
            settings.Validate();
            var expected = PeftAdapterTensors.ExpectedShapes(config, settings);
            var problems = Problems(expected, adapters.ToDictionary(kv => kv.Key, kv => kv.Value.shape));
            if (problems.Count > 0)
                throw new ArgumentException($"The adapters do not fit {config.ModelType} with {settings}; nothing was written: {string.Join("; ", problems)}.", nameof(adapters));
            var encoding = PeftAdapterTensors.EncodingOf(config);
            using var scope = NewDisposeScope();
            var tensors = PeftAdapterTensors.ToPeft(config, adapters);
            var configJson = ConfigJson(config, settings, baseModelNameOrPath, tensors.Keys, encoding);
            AtomicWrites.ReplaceFolder(folder, ConfigFileName, "adapter folder", temporary =>
            {
                SafetensorsWriter.Write(Path.Combine(temporary, WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
                AtomicWrites.NewFile(Path.Combine(temporary, ConfigFileName), stream => stream.Write(configJson));
            });
            return encoding;
        }

        /// <summary>
        /// Reads an adapter folder written for a model of <paramref name="config"/> (by <see cref="Save"/> or by PEFT with
        /// the same modules; balance biases are optional, a folder without them leaves the base model's): the config's fields that change the computation are checked (bias, fan_in_fan_out,
        /// use_dora, per-module rank_pattern …), the targets are the ones the file holds adapters for, and every key and
        /// shape is checked against <paramref name="config"/> before a tensor is read. Nothing read executes code.
        /// </summary>
        /// <param name="folder">The adapter folder.</param>
        /// <param name="config">The base model's config.</param>
        /// <exception cref="InvalidDataException">A field, key or shape does not fit; the message names the file, field or key, expected and actual.</exception>
        public static PeftAdapters Load(string folder, MoeModelConfig config)
        {
            ArgumentException.ThrowIfNullOrEmpty(folder);
            ArgumentNullException.ThrowIfNull(config);
            var configPath = Path.Combine(folder, ConfigFileName);
            var weightsPath = Path.Combine(folder, WeightsFileName);
            if (!File.Exists(configPath)) throw new FileNotFoundException($"adapter folder '{folder}' has no {ConfigFileName}.", configPath);
            if (!File.Exists(weightsPath)) throw new FileNotFoundException($"adapter folder '{folder}' has no {WeightsFileName} (a PyTorch adapter_model.bin is not read: unpickling executes code).", weightsPath);
            var encoding = PeftAdapterTensors.EncodingOf(config);
            var (rank, alpha, rankStabilized, _) = PeftAdapterConfig.Read(configPath, encoding == PeftExpertEncoding.FusedParameters);

            using var file = SafetensorsFile.Open(weightsPath);
            var targets = TargetsOf(config, file.Keys);
            if (targets == AdapterTargets.None) throw new InvalidDataException($"{weightsPath}: holds no adapter of a {config.ModelType} model under '{PeftAdapterTensors.KeyPrefix}model.layers.'.");
            var settings = new AdapterSettings(rank, alpha, rankStabilized, targets);
            Dictionary<string, Tensor> adapters;
            using (var scope = NewDisposeScope())
            {
                var expected = PeftAdapterTensors.ToPeft(config, PeftAdapterTensors.ExpectedShapes(config, settings).ToDictionary(kv => kv.Key, kv => zeros(kv.Value)))
                    .ToDictionary(kv => kv.Key, kv => kv.Value.shape);
                foreach (var key in PeftAdapterTensors.BalanceBiasPeftKeys(config))
                    if (!file.Keys.Contains(key)) expected.Remove(key);
                var problems = Problems(expected, file.Keys.ToDictionary(k => k, k => file.GetInfo(k).Shape.ToArray()));
                if (problems.Count > 0)
                    throw new InvalidDataException($"{weightsPath}: the adapters do not fit {config.ModelType} ({config.Source}) with r = {rank}: {string.Join("; ", problems)}.");
                var read = file.Keys.ToDictionary(k => k, k => file.Read(k));
                adapters = PeftAdapterTensors.FromPeft(config, read, weightsPath);
                foreach (var value in adapters.Values) value.MoveToOuterDisposeScope();
            }
            return new PeftAdapters(adapters, settings, encoding);
        }

        /// <summary>
        /// Puts the adapters of <paramref name="folder"/> on <paramref name="model"/> (<see cref="ModelAdapters.Apply"/> with
        /// the folder's settings, then its tensors): the adapted model computes what the fine-tune left, ready to generate,
        /// score or merge. Balance biases the folder lacks keep the model's values. Everything is read and checked before
        /// the model changes.
        /// </summary>
        /// <param name="folder">An adapter folder for the model's config.</param>
        /// <param name="model">A model without adapters.</param>
        /// <returns>The folder's settings.</returns>
        public static AdapterSettings ApplyTo(string folder, MoeCausalLM model)
        {
            ArgumentNullException.ThrowIfNull(model);
            var loaded = Load(folder, model.Config);
            try
            {
                ModelAdapters.Apply(model, loaded.Settings);
                // A trained tensor the folder lacks (a balance bias) is "loaded" from itself: it keeps the model's value.
                var state = new Dictionary<string, Tensor>(loaded.Adapters, StringComparer.Ordinal);
                foreach (var (key, tensor) in ModelAdapters.TrainedTensors(model)) state.TryAdd(key, tensor);
                ModelAdapters.LoadTrainedState(model, state, Path.Combine(folder, WeightsFileName));
                return loaded.Settings;
            }
            finally
            {
                foreach (var value in loaded.Adapters.Values) value.Dispose();
            }
        }

        /// <summary>What the file holds adapters for: attention, MoE experts, dense MLP layers, routers (MoE-block tensors that are not LoRA's).</summary>
        private static AdapterTargets TargetsOf(MoeModelConfig config, IEnumerable<string> keys)
        {
            var blocks = PeftAdapterTensors.MoeBlockPrefixes(config).Select(b => PeftAdapterTensors.KeyPrefix + b).ToList();
            var targets = AdapterTargets.None;
            var balanceBiases = PeftAdapterTensors.BalanceBiasPeftKeys(config);
            foreach (var key in keys.Where(k => !balanceBiases.Contains(k)))
            {
                var block = blocks.FirstOrDefault(b => key.StartsWith(b, StringComparison.Ordinal));
                if (key.Contains(".self_attn.", StringComparison.Ordinal)) targets |= AdapterTargets.Attention;
                else if (block is null && key.Contains(".mlp.", StringComparison.Ordinal)) targets |= AdapterTargets.DenseMlp;
                else if (block is not null) targets |= key.Contains(".lora_", StringComparison.Ordinal) ? AdapterTargets.Experts : AdapterTargets.Router;
            }
            return targets;
        }

        /// <summary>Missing keys, unexpected keys and shape mismatches, each named with the expected and actual shape.</summary>
        private static List<string> Problems(IReadOnlyDictionary<string, long[]> expected, IReadOnlyDictionary<string, long[]> actual)
        {
            static string Shape(long[] s) => $"[{string.Join(", ", s)}]";
            var problems = new List<string>();
            foreach (var (key, shape) in expected)
            {
                if (!actual.TryGetValue(key, out var found)) problems.Add($"missing '{key}' (expected {Shape(shape)})");
                else if (!found.SequenceEqual(shape)) problems.Add($"'{key}' has shape {Shape(found)}, expected {Shape(shape)}");
            }
            problems.AddRange(actual.Keys.Where(k => !expected.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).Select(k => $"unexpected '{k}' {Shape(actual[k])}"));
            return problems;
        }

        /// <summary>
        /// adapter_config.json for the written tensors. target_modules: the adapted modules' names (q_proj, gate_proj, w1 …),
        /// except that where a name also belongs to modules that are not adapted, those are listed in exclude_modules (dense
        /// layers when only the experts are adapted), or the adapted modules are listed by path (dense layers when the
        /// experts are not); modules_to_save: the routers' modules under the layer (mlp.gate); target_parameters: gpt_oss's
        /// fused expert parameters.
        /// </summary>
        private static byte[] ConfigJson(MoeModelConfig config, AdapterSettings settings, string? baseModelNameOrPath, IEnumerable<string> keys, PeftExpertEncoding encoding)
        {
            var blocks = PeftAdapterTensors.MoeBlockPrefixes(config);
            var modules = new SortedSet<string>(StringComparer.Ordinal);
            var exclude = new SortedSet<string>(StringComparer.Ordinal);
            var routers = new SortedSet<string>(StringComparer.Ordinal);
            var parameters = encoding == PeftExpertEncoding.FusedParameters && settings.Targets.HasFlag(AdapterTargets.Experts)
                ? new List<string> { $"{config.MoeBlockName}.experts.gate_up_proj", $"{config.MoeBlockName}.experts.down_proj" } : null;
            foreach (var key in keys.Select(k => k.Substring(PeftAdapterTensors.KeyPrefix.Length)))
            {
                var inBlock = blocks.Any(b => key.StartsWith(b, StringComparison.Ordinal));
                var layerRelative = string.Join('.', key.Split('.').Skip(3)); // after "model.layers.{i}."
                if (!key.Contains(".lora_", StringComparison.Ordinal))
                {
                    routers.Add(layerRelative.Substring(0, layerRelative.LastIndexOf('.')));
                    continue;
                }
                if (inBlock && parameters is not null) continue;
                var module = key.Substring(0, key.IndexOf(".lora_", StringComparison.Ordinal));
                var denseOnly = !inBlock && key.Contains(".mlp.", StringComparison.Ordinal) && !settings.Targets.HasFlag(AdapterTargets.Experts);
                modules.Add(denseOnly ? module : module.Substring(module.LastIndexOf('.') + 1));
            }
            if (settings.Targets.HasFlag(AdapterTargets.Experts) && !settings.Targets.HasFlag(AdapterTargets.DenseMlp))
            {
                for (var i = 0; i < config.NumLayers; i++)
                {
                    if (config.IsMoeLayer(i)) continue;
                    foreach (var projection in new[] { "gate_proj", "up_proj", "down_proj" })
                        if (modules.Contains(projection)) exclude.Add($"{MoeCausalLM.LayersPrefix}{i}.mlp.{projection}");
                }
            }
            return PeftAdapterConfig.Write(settings, baseModelNameOrPath, modules, exclude.Count > 0 ? exclude : null, routers.Count > 0 ? routers : null, parameters);
        }
    }
}
