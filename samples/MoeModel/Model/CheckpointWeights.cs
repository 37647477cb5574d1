using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers.Interop;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// Loads a checkpoint into a <see cref="MoeCausalLM"/>: the tensors outside the MoE blocks by their published keys,
    /// the MoE blocks through MoeLayers.Interop. Missing keys and keys the model has no place for are refused by name,
    /// all at once, before anything is read; wrong shapes likewise, before anything is copied.
    /// </summary>
    internal static class CheckpointWeights
    {
        /// <summary>
        /// Loads every tensor. <paramref name="atomic"/>: everything is checked and read before anything changes (the
        /// MoE blocks through <see cref="HfCheckpoint.LoadInto"/>, which holds every block's weights beside the model's
        /// until it copies them). Otherwise (a fresh model that is discarded on failure) the keys are checked first, then
        /// each MoE layer is loaded on its own (<see cref="HfCheckpoint.LoadLayerInto"/>) and each other tensor copied as
        /// it is read, so memory holds the model and one layer's weights more, not two models.
        /// </summary>
        public static void Load(MoeCausalLM model, HfCheckpoint checkpoint, IProgress<LoadProgress>? progress, bool atomic)
        {
            var config = model.Config;
            var expected = model.NonMoeParameters();
            var available = checkpoint.TensorKeys.ToHashSet(StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (var (key, parameter) in expected)
                if (!available.Contains(key)) problems.Add($"missing '{key}' (expected {Shape(parameter.shape)})");
            var known = expected.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var key in checkpoint.TensorKeys.Where(k => !known.Contains(k) && !BelongsToMoeBlock(config, k) && !Skipped(config, k)).OrderBy(k => k, StringComparer.Ordinal))
                problems.Add($"unexpected '{key}' (the {config.ModelType} model has no such tensor)");
            Refuse(checkpoint, problems);

            var moeLayers = Enumerable.Range(0, config.NumLayers).Where(config.IsMoeLayer).ToArray();
            var total = expected.Count + (atomic ? 1 : moeLayers.Length);
            var done = 0;
            var read = new List<(Tensor Target, Tensor Value)>();
            try
            {
                foreach (var (key, parameter) in expected)
                {
                    var value = ReadChecked(checkpoint, key, parameter, problems);
                    if (value is not null)
                    {
                        if (atomic)
                        {
                            read.Add((parameter, value));
                        }
                        else
                        {
                            using (value)
                            using (no_grad())
                                parameter.copy_(value);
                        }
                    }
                    progress?.Report(new LoadProgress(++done, total, key));
                }
                Refuse(checkpoint, problems);
                if (atomic)
                {
                    checkpoint.LoadInto(model, MoeCausalLM.LayersPrefix, new HfLoadOptions { Strict = true });
                    progress?.Report(new LoadProgress(++done, total, $"MoE layers ({moeLayers.Length})"));
                    using var noGrad = no_grad();
                    foreach (var (target, value) in read) target.copy_(value);
                }
                else
                {
                    foreach (var layer in moeLayers)
                    {
                        checkpoint.LoadLayerInto((MoeLayer)model.Decoder.Layers[layer].FeedForward, layer, new HfLoadOptions { Strict = true });
                        progress?.Report(new LoadProgress(++done, total, $"{MoeCausalLM.LayersPrefix}{layer}.{config.MoeBlockName} (MoE)"));
                    }
                }
            }
            finally
            {
                foreach (var (_, value) in read) value.Dispose();
            }
        }

        /// <summary>The tensor converted to the parameter's dtype, or null with the problem noted.</summary>
        private static Tensor? ReadChecked(HfCheckpoint checkpoint, string key, Tensor parameter, List<string> problems)
        {
            using var stored = checkpoint.ReadTensor(key);
            if (!stored.shape.SequenceEqual(parameter.shape))
                problems.Add($"'{key}' has shape {Shape(stored.shape)}; expected {Shape(parameter.shape)}");
            else if (!stored.is_floating_point())
                problems.Add($"'{key}' is {stored.dtype}; expected a floating dtype");
            else
                return stored.to(parameter.dtype, copy: true);
            return null;
        }

        /// <summary>Whether the key is under a MoE layer's block, which <see cref="HfCheckpoint.LoadInto"/> checks and
        /// loads: model.layers.{i}.mlp., or Mixtral's block_sparse_moe. (transformers v5 saves Mixtral's block as mlp.).</summary>
        private static bool BelongsToMoeBlock(MoeModelConfig config, string key)
        {
            for (var i = 0; i < config.NumLayers; i++)
            {
                if (!config.IsMoeLayer(i)) continue;
                var layer = $"{MoeCausalLM.LayersPrefix}{i}.";
                if (key.StartsWith(layer + config.MoeBlockName + ".", StringComparison.Ordinal) || key.StartsWith(layer + "mlp.", StringComparison.Ordinal)) return true;
            }
            return false;
        }

        /// <summary>Tensors transformers itself skips: GLM-4.5's multi-token-prediction layers after the decoder layers,
        /// and rotary inv_freq buffers some older checkpoints carry.</summary>
        private static bool Skipped(MoeModelConfig config, string key)
        {
            if (key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)) return true;
            for (var j = 0; j < config.NextTokenPredictionLayers; j++)
                if (key.StartsWith($"{MoeCausalLM.LayersPrefix}{config.NumLayers + j}.", StringComparison.Ordinal)) return true;
            return false;
        }

        private static void Refuse(HfCheckpoint checkpoint, List<string> problems)
        {
            if (problems.Count == 0) return;
            throw new InvalidDataException($"{checkpoint.Folder} does not fit the model ({problems.Count} problem(s)); nothing was loaded:\n  " + string.Join("\n  ", problems));
        }

        private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";
    }
}
