using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// One sparse-MoE block of a Hugging Face checkpoint in and out of a <see cref="MoeLayer"/>: the published key names
    /// and [out, in] nn.Linear layouts of Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE and DeepSeek-V3, per expert or fused (v5),
    /// mapped to MoeLayers' stacked [E, in, out] expert parameters, both directions. A layer prefix such as
    /// "model.layers.3." selects the block of a full-model file; only its tensors are read.
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
            using var file = SafetensorsFile.Open(weightsPath);
            var block = BlockPrefix(file.Keys, config.Architecture, layerPrefix, weightsPath);
            var layout = file.Contains(block + "experts.gate_up_proj") ? HfExpertLayout.Fused : HfExpertLayout.PerExpert;
            var expected = ExpectedShapes(config, layout, block);
            var problems = new List<StateDictProblem>();
            foreach (var (key, shape) in expected)
            {
                var name = key.Substring(block.Length);
                if (!file.TryGetInfo(key, out var info)) problems.Add(new StateDictProblem(StateDictProblemKind.MissingKey, name, key, shape));
                else if (!info.Shape.SequenceEqual(shape)) problems.Add(new StateDictProblem(StateDictProblemKind.ShapeMismatch, name, key, shape, info.Shape));
            }
            if (strict)
            {
                foreach (var key in file.KeysUnder(block).Where(k => !expected.ContainsKey(k)))
                    problems.Add(new StateDictProblem(StateDictProblemKind.UnexpectedKey, key.Substring(block.Length), key, null, file.GetInfo(key).Shape));
            }
            if (problems.Count > 0) throw new StateDictMismatchException(weightsPath, problems);

            using var scope = NewDisposeScope();
            var hf = expected.Keys.ToDictionary(k => k.Substring(block.Length), k => file.Read(k).to(ScalarType.Float32));
            var state = ToMoeLayers(hf, config, layout);
            MoeStateDict.Load(layer, state, strict: true);
            return layout;
        }

        /// <summary>
        /// Writes the layer as the block of a Hugging Face checkpoint at <paramref name="layerPrefix"/>, atomically (temp
        /// file, then rename), in the family's published names.
        /// </summary>
        /// <param name="layer">The layer (built from the config's options).</param>
        /// <param name="weightsPath">The .safetensors file to write.</param>
        /// <param name="config">The model's config (its family decides the names).</param>
        /// <param name="layerPrefix">The decoder layer's prefix.</param>
        /// <param name="layout">Per-expert tensors (what most checkpoints hold) or v5's fused ones.</param>
        /// <param name="dtype">Storage dtype (float32, float16 or bfloat16); the correction bias stays float32 as published.</param>
        public static void Save(MoeLayer layer, string weightsPath, HfMoeConfig config, string layerPrefix = "model.layers.0.",
            HfExpertLayout layout = HfExpertLayout.PerExpert, ScalarType dtype = ScalarType.Float32)
        {
            ArgumentNullException.ThrowIfNull(layer);
            ArgumentNullException.ThrowIfNull(config);
            if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"dtype must be Float32, Float16 or BFloat16; got {dtype}.");
            using var scope = NewDisposeScope();
            var block = layerPrefix + (config.Architecture == HfArchitecture.Mixtral && layout == HfExpertLayout.PerExpert ? "block_sparse_moe." : "mlp.");
            var tensors = FromMoeLayers(layer.state_dict(), config, layout)
                .ToDictionary(kv => block + kv.Key, kv => kv.Key.EndsWith("e_score_correction_bias") ? kv.Value.to(ScalarType.Float32) : kv.Value.to(dtype));
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
            Tensor Get(string key) => block.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"the block has no '{key}'.");
            var state = new Dictionary<string, Tensor> { ["router.weight"] = Get("gate.weight") };
            if (config.HasBalanceBias) state["router.correction_bias"] = Get("gate.e_score_correction_bias");
            var (gate, up, down) = ProjectionNames(config.Architecture);
            if (layout == HfExpertLayout.Fused)
            {
                var gateUp = Get("experts.gate_up_proj"); // [E, 2h, d]
                var h = config.ExpertWidth;
                state["experts.w_gate"] = gateUp.narrow(1, 0, h).transpose(1, 2).contiguous();
                state["experts.w_in"] = gateUp.narrow(1, h, h).transpose(1, 2).contiguous();
                state["experts.w_out"] = Get("experts.down_proj").transpose(1, 2).contiguous(); // [E, d, h] → [E, h, d]
            }
            else
            {
                Tensor Stack(string projection) => stack(Enumerable.Range(0, config.NumExperts).Select(i => Get($"experts.{i}.{projection}.weight").t()).ToArray());
                state["experts.w_gate"] = Stack(gate);
                state["experts.w_in"] = Stack(up);
                state["experts.w_out"] = Stack(down);
            }
            if (SharedPrefix(config.Architecture) is { } shared && config.SharedExperts > 0)
            {
                state["shared_experts.w_gate"] = Get($"{shared}gate_proj.weight").t().contiguous();
                state["shared_experts.w_in"] = Get($"{shared}up_proj.weight").t().contiguous();
                state["shared_experts.w_out"] = Get($"{shared}down_proj.weight").t().contiguous();
                if (config.SharedExpertGate) state["shared_experts.gate"] = Get("shared_expert_gate.weight");
            }
            return state;
        }

        /// <summary>Maps a MoeLayers state dict to block-relative Hugging Face tensors (the inverse of <see cref="ToMoeLayers"/>).</summary>
        /// <param name="state">The layer's state dict.</param>
        /// <param name="config">The model's config.</param>
        /// <param name="layout">How to store the experts.</param>
        public static Dictionary<string, Tensor> FromMoeLayers(IReadOnlyDictionary<string, Tensor> state, HfMoeConfig config, HfExpertLayout layout)
        {
            ArgumentNullException.ThrowIfNull(state);
            ArgumentNullException.ThrowIfNull(config);
            Tensor Get(string key) => state.TryGetValue(key, out var t) ? t.detach() : throw new KeyNotFoundException($"the layer has no '{key}'; was it built from this config's options?");
            var block = new Dictionary<string, Tensor> { ["gate.weight"] = Get("router.weight") };
            if (config.HasBalanceBias) block["gate.e_score_correction_bias"] = Get("router.correction_bias");
            var (gate, up, down) = ProjectionNames(config.Architecture);
            var wGate = Get("experts.w_gate");
            var wIn = Get("experts.w_in");
            var wOut = Get("experts.w_out");
            if (layout == HfExpertLayout.Fused)
            {
                block["experts.gate_up_proj"] = cat(new[] { wGate.transpose(1, 2), wIn.transpose(1, 2) }, 1).contiguous();
                block["experts.down_proj"] = wOut.transpose(1, 2).contiguous();
            }
            else
            {
                for (var i = 0; i < config.NumExperts; i++)
                {
                    block[$"experts.{i}.{gate}.weight"] = wGate[i].t().contiguous();
                    block[$"experts.{i}.{up}.weight"] = wIn[i].t().contiguous();
                    block[$"experts.{i}.{down}.weight"] = wOut[i].t().contiguous();
                }
            }
            if (SharedPrefix(config.Architecture) is { } shared && config.SharedExperts > 0)
            {
                block[$"{shared}gate_proj.weight"] = Get("shared_experts.w_gate").t().contiguous();
                block[$"{shared}up_proj.weight"] = Get("shared_experts.w_in").t().contiguous();
                block[$"{shared}down_proj.weight"] = Get("shared_experts.w_out").t().contiguous();
                if (config.SharedExpertGate) block["shared_expert_gate.weight"] = Get("shared_experts.gate");
            }
            return block;
        }

        /// <summary>Every tensor the block must hold, by full key, with its published shape.</summary>
        internal static Dictionary<string, long[]> ExpectedShapes(HfMoeConfig c, HfExpertLayout layout, string block)
        {
            long d = c.HiddenSize, h = c.ExpertWidth, e = c.NumExperts;
            var shapes = new Dictionary<string, long[]> { [block + "gate.weight"] = new[] { e, d } };
            if (c.HasBalanceBias) shapes[block + "gate.e_score_correction_bias"] = new[] { e };
            var (gate, up, down) = ProjectionNames(c.Architecture);
            if (layout == HfExpertLayout.Fused)
            {
                shapes[block + "experts.gate_up_proj"] = new[] { e, 2 * h, d };
                shapes[block + "experts.down_proj"] = new[] { e, d, h };
            }
            else
            {
                for (var i = 0; i < e; i++)
                {
                    shapes[$"{block}experts.{i}.{gate}.weight"] = new[] { h, d };
                    shapes[$"{block}experts.{i}.{up}.weight"] = new[] { h, d };
                    shapes[$"{block}experts.{i}.{down}.weight"] = new[] { d, h };
                }
            }
            if (SharedPrefix(c.Architecture) is { } shared && c.SharedExperts > 0)
            {
                long width = (long)c.SharedExperts * c.SharedWidth;
                shapes[$"{block}{shared}gate_proj.weight"] = new[] { width, d };
                shapes[$"{block}{shared}up_proj.weight"] = new[] { width, d };
                shapes[$"{block}{shared}down_proj.weight"] = new[] { d, width };
                if (c.SharedExpertGate) shapes[block + "shared_expert_gate.weight"] = new[] { 1, d };
            }
            return shapes;
        }

        /// <summary>The block's full prefix: Mixtral's v4 "block_sparse_moe." or everyone's "mlp.".</summary>
        private static string BlockPrefix(IReadOnlyList<string> keys, HfArchitecture architecture, string layerPrefix, string path)
        {
            if (architecture == HfArchitecture.Mixtral && keys.Any(k => k.StartsWith(layerPrefix + "block_sparse_moe.", StringComparison.Ordinal)))
                return layerPrefix + "block_sparse_moe.";
            if (keys.Any(k => k.StartsWith(layerPrefix + "mlp.", StringComparison.Ordinal))) return layerPrefix + "mlp.";
            throw new InvalidDataException(
                $"{path} holds no MoE block under '{layerPrefix}' (looked for '{layerPrefix}mlp.'{(architecture == HfArchitecture.Mixtral ? $" and '{layerPrefix}block_sparse_moe.'" : "")}); " +
                $"its first keys are: {string.Join(", ", keys.Take(5))}.");
        }

        private static (string Gate, string Up, string Down) ProjectionNames(HfArchitecture architecture) =>
            architecture == HfArchitecture.Mixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");

        private static string? SharedPrefix(HfArchitecture architecture) => architecture switch
        {
            HfArchitecture.Qwen2Moe => "shared_expert.",
            HfArchitecture.DeepseekV3 => "shared_experts.",
            _ => null,
        };
    }
}
