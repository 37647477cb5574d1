using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeLayers.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The adapters of a <see cref="MoeCausalLM"/> (its own state-dict names) ↔ PEFT's saved LoRA tensors (peft
    /// src/peft/utils/save_and_load.py @ 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40, get_peft_model_state_dict: the
    /// PeftModel's keys, "base_model.model." + the base model's module path, with the adapter name removed).
    /// <list type="bullet">
    /// <item>Attention and dense MLP projections: our keys are PEFT's already (lora.Linear: lora_A.weight [r, in],
    /// lora_B.weight [out, r]).</item>
    /// <item>Per-expert families: the MoE layer's experts.lora.a_x [E, in, r] / b_x [E, r, out] (x·W layout) become each
    /// expert's lora_A.weight = A_eᵀ [r, in] and lora_B.weight = B_eᵀ [out, r] under the module names the family's
    /// published per-expert layout uses. The names and transposes are MoeLayers.Interop's own codec: A (and B) stand in
    /// for the expert weights in <see cref="HfMoeBlock.FromMoeLayers"/> / <see cref="HfMoeBlock.ToMoeLayers"/>, whose
    /// "experts.{e}.gate_proj.weight" = W_eᵀ is exactly PEFT's lora_A.weight when W = A. Shared experts likewise.</item>
    /// <item>gpt_oss (fused, input-major): PEFT's ParamWrapper (src/peft/tuners/lora/layer.py @ the same commit) on a 3-D
    /// parameter of an experts module with is_transposed (transformers' GptOssExperts, @use_experts_implementation(
    /// is_transposed=True)) has lora_A.weight [E·r, in] (expert-major rows: A_e = rows e·r … e·r + r − 1) and lora_B.weight
    /// [out, r·E] (rank-major columns: B_e[o, j] = lora_B.weight[o, j·E + e]) and adds s·(B_e·A_e)ᵀ to W_e [in, out]
    /// (get_delta_weight's einsum "o r e, e r i -> e i o"). gate_up_proj's adapter has rank 2r: ranks 0…r−1 are the gate
    /// adapter, r…2r−1 the up adapter, and its B is zero except gate ranks → gate columns (even: gate = [..., ::2] in
    /// GptOssExperts) and up ranks → up columns (odd). Two parameters of one module nest two ParamWrappers; PEFT
    /// (tuners_utils.py, _inject_parameters) wraps them in the order the module registers them, gate_up_proj first, so
    /// gate_up_proj's adapter is the inner one (experts.base_layer.lora_A.weight) and down_proj's the outer
    /// (experts.lora_A.weight), as PEFT's transformers_weight_conversion.py also names them.</item>
    /// <item>Routers (trained in full): PEFT's modules_to_save, saved under the module's own keys (ModulesToSaveWrapper.
    /// adapter_state_dict in src/peft/utils/other.py): base_model.model.model.layers.{i}.mlp.gate.weight, gpt_oss's
    /// mlp.router.weight and .bias; the names from <see cref="HfMoeBlock.FromMoeLayers"/>. A family with an aux-loss-free
    /// balance bias (glm4_moe's mlp.gate.e_score_correction_bias, a buffer training moves) writes it the same way: PEFT's
    /// copy of a module to save keeps its buffers in its state dict.</item>
    /// </list>
    /// </summary>
    internal static class PeftAdapterTensors
    {
        /// <summary>PEFT's prefix of every saved key (a PeftModel's base_model.model).</summary>
        public const string KeyPrefix = "base_model.model.";

        private static readonly string[] ExpertProjections = { "in", "gate", "out" };

        /// <summary>How the family's experts are written.</summary>
        public static PeftExpertEncoding EncodingOf(MoeModelConfig config) =>
            config.Family == MoeModelFamily.GptOss ? PeftExpertEncoding.FusedParameters : PeftExpertEncoding.PerExpertModules;

        /// <summary>Every adapter key of a model of <paramref name="config"/> adapted with <paramref name="settings"/>, with its shape.</summary>
        public static Dictionary<string, long[]> ExpectedShapes(MoeModelConfig config, AdapterSettings settings)
        {
            long r = settings.Rank, d = config.HiddenSize;
            var targets = settings.Targets;
            var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
            void Linear(string module, long inDim, long outDim)
            {
                shapes[module + ".lora_A.weight"] = new[] { r, inDim };
                shapes[module + ".lora_B.weight"] = new[] { outDim, r };
            }
            for (var i = 0; i < config.NumLayers; i++)
            {
                var layer = $"{MoeCausalLM.LayersPrefix}{i}.";
                if (targets.HasFlag(AdapterTargets.Attention))
                {
                    long q = (long)config.NumHeads * config.HeadDim, kv = (long)config.NumKeyValueHeads * config.HeadDim;
                    Linear(layer + "self_attn.q_proj", d, q);
                    Linear(layer + "self_attn.k_proj", d, kv);
                    Linear(layer + "self_attn.v_proj", d, kv);
                    Linear(layer + "self_attn.o_proj", q, d);
                }
                if (!config.IsMoeLayer(i))
                {
                    if (!targets.HasFlag(AdapterTargets.DenseMlp)) continue;
                    Linear(layer + "mlp.gate_proj", d, config.IntermediateSize);
                    Linear(layer + "mlp.up_proj", d, config.IntermediateSize);
                    Linear(layer + "mlp.down_proj", config.IntermediateSize, d);
                    continue;
                }
                var block = $"{layer}{config.MoeBlockName}.";
                var moe = config.Moe;
                if (targets.HasFlag(AdapterTargets.Experts))
                {
                    long e = moe.NumExperts, h = moe.ExpertWidth;
                    foreach (var (key, shape) in ExpertAdapterShapes(new[] { e }, d, h, r, Gated(moe))) shapes[block + "experts." + key] = shape;
                    if (moe.SharedExperts > 0)
                        foreach (var (key, shape) in ExpertAdapterShapes(Array.Empty<long>(), d, (long)moe.SharedExperts * moe.SharedWidth, r, Gated(moe)))
                            shapes[block + "shared_experts." + key] = shape;
                }
                if (targets.HasFlag(AdapterTargets.Router))
                {
                    shapes[block + "router.weight"] = new[] { (long)moe.NumExperts, d };
                    if (moe.RouterBias) shapes[block + "router.bias"] = new[] { (long)moe.NumExperts };
                }
                // Training moves the aux-loss-free balance bias whatever is adapted (ModelAdapters.TrainedTensors).
                if (moe.HasBalanceBias) shapes[block + BalanceBiasKey] = new[] { (long)moe.NumExperts };
            }
            return shapes;
        }

        /// <summary>The adapters (checked against <see cref="ExpectedShapes"/> by the caller) as PEFT's saved tensors, float32, contiguous.</summary>
        public static Dictionary<string, Tensor> ToPeft(MoeModelConfig config, IReadOnlyDictionary<string, Tensor> adapters)
        {
            var peft = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var blocks = MoeBlockPrefixes(config);
            foreach (var (key, value) in adapters)
            {
                if (blocks.Any(b => key.StartsWith(b, StringComparison.Ordinal))) continue;
                peft[KeyPrefix + key] = value.detach().to(ScalarType.Float32).contiguous();
            }
            foreach (var block in blocks)
            {
                var relative = adapters.Where(kv => kv.Key.StartsWith(block, StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key.Substring(block.Length), kv => kv.Value.detach().to(ScalarType.Float32));
                if (relative.Count == 0) continue;
                foreach (var (key, value) in BlockToPeft(config, relative)) peft[KeyPrefix + block + key] = value.contiguous();
            }
            return peft;
        }

        /// <summary>
        /// The inverse of <see cref="ToPeft"/> on tensors whose keys and shapes the caller has checked; throws
        /// <see cref="InvalidDataException"/> naming <paramref name="file"/> when gpt_oss's fused gate/up adapter is not
        /// block-diagonal (then it is no pair of separate gate and up adapters).
        /// </summary>
        public static Dictionary<string, Tensor> FromPeft(MoeModelConfig config, IReadOnlyDictionary<string, Tensor> peft, string file)
        {
            var adapters = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var blocks = MoeBlockPrefixes(config);
            foreach (var (key, value) in peft)
            {
                var ours = key.Substring(KeyPrefix.Length);
                if (blocks.Any(b => ours.StartsWith(b, StringComparison.Ordinal))) continue;
                adapters[ours] = value.to(ScalarType.Float32).contiguous();
            }
            foreach (var block in blocks)
            {
                var prefix = KeyPrefix + block;
                var relative = peft.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key.Substring(prefix.Length), kv => kv.Value.to(ScalarType.Float32));
                if (relative.Count == 0) continue;
                foreach (var (key, value) in BlockFromPeft(config, relative, file + $" (block {prefix})")) adapters[block + key] = value.contiguous();
            }
            return adapters;
        }

        /// <summary>Our block-relative key of the aux-loss-free balance bias (DeepSeek-V3's e_score_correction_bias).</summary>
        public const string BalanceBiasKey = "router.correction_bias";

        /// <summary>
        /// The PEFT keys of every MoE layer's balance bias (the router module's buffer, saved with it as modules_to_save),
        /// empty for families without one. Optional when reading: a folder PEFT wrote in Python has none, and the base
        /// model's biases then stand.
        /// </summary>
        public static HashSet<string> BalanceBiasPeftKeys(MoeModelConfig config)
        {
            var keys = new HashSet<string>(StringComparer.Ordinal);
            if (!config.Moe.HasBalanceBias) return keys;
            var name = PublishedNames(config.Moe).Routers.Single(r => r.Source == BalanceBiasKey).Name;
            foreach (var block in MoeBlockPrefixes(config)) keys.Add(KeyPrefix + block + name);
            return keys;
        }

        /// <summary>"model.layers.{i}.{block}." of every MoE layer.</summary>
        public static List<string> MoeBlockPrefixes(MoeModelConfig config) =>
            Enumerable.Range(0, config.NumLayers).Where(config.IsMoeLayer).Select(i => $"{MoeCausalLM.LayersPrefix}{i}.{config.MoeBlockName}.").ToList();

        /// <summary>Our block-relative adapters (experts.lora.*, shared_experts.lora.*, router.*) → block-relative PEFT keys.</summary>
        private static Dictionary<string, Tensor> BlockToPeft(MoeModelConfig config, Dictionary<string, Tensor> ours)
        {
            var moe = config.Moe;
            var peft = RoutersToPeft(moe, ours);
            if (!ours.ContainsKey("experts.lora.a_in")) return peft;
            if (EncodingOf(config) == PeftExpertEncoding.FusedParameters)
            {
                foreach (var (key, value) in FusedToPeft(ours)) peft[key] = value;
                return peft;
            }
            foreach (var (side, lora) in new[] { ("a", "lora_A"), ("b", "lora_B") })
            {
                var state = Placeholders(moe);
                foreach (var owner in new[] { "experts", "shared_experts" })
                    foreach (var projection in ExpertProjections)
                        if (ours.TryGetValue($"{owner}.lora.{side}_{projection}", out var t)) state[$"{owner}.w_{projection}"] = t;
                foreach (var (key, value) in HfMoeBlock.FromMoeLayers(state, moe, HfExpertLayout.PerExpert))
                    if (value.device_type != DeviceType.META) peft[LoraKey(key, lora)] = value;
            }
            return peft;
        }

        private static Dictionary<string, Tensor> BlockFromPeft(MoeModelConfig config, Dictionary<string, Tensor> peft, string where)
        {
            var moe = config.Moe;
            var ours = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var published = PublishedNames(moe);
            foreach (var (name, source) in published.Routers)
                if (peft.TryGetValue(name, out var t)) ours[source] = t;
            var hasExperts = peft.Keys.Any(k => k.Contains(".lora_A.", StringComparison.Ordinal));
            if (!hasExperts) return ours;
            if (EncodingOf(config) == PeftExpertEncoding.FusedParameters)
            {
                foreach (var (key, value) in FusedFromPeft(moe, peft, where)) ours[key] = value;
                return ours;
            }
            foreach (var (side, lora) in new[] { ("a", "lora_A"), ("b", "lora_B") })
            {
                var block = published.All.ToDictionary(kv => kv.Key, kv => peft.TryGetValue(LoraKey(kv.Key, lora), out var t) ? t : kv.Value);
                foreach (var (key, value) in HfMoeBlock.ToMoeLayers(block, moe, HfExpertLayout.PerExpert))
                {
                    if (value.device_type == DeviceType.META || !key.Contains(".w_", StringComparison.Ordinal)) continue;
                    var owner = key.Substring(0, key.IndexOf('.'));
                    ours[$"{owner}.lora.{side}_{key.Substring(owner.Length + ".w_".Length)}"] = value;
                }
            }
            return ours;
        }

        /// <summary>"experts.0.gate_proj.weight" → "experts.0.gate_proj.lora_A.weight".</summary>
        private static string LoraKey(string weightKey, string lora) => weightKey.Substring(0, weightKey.Length - "weight".Length) + lora + ".weight";

        /// <summary>
        /// The block's published names: every tensor <see cref="HfMoeBlock.FromMoeLayers"/> writes for the family's published
        /// layout (with meta placeholders), and which of them are the router's parameters (the only ones not from experts).
        /// </summary>
        private static (Dictionary<string, Tensor> All, List<(string Name, string Source)> Routers) PublishedNames(HfMoeConfig moe)
        {
            var state = Placeholders(moe);
            var layout = moe.Architecture == HfArchitecture.GptOss ? HfExpertLayout.Fused : HfExpertLayout.PerExpert;
            var routers = new List<(string, string)>();
            foreach (var source in RouterKeys(moe))
            {
                var marked = new Dictionary<string, Tensor>(state) { [source] = zeros(1) };
                var found = HfMoeBlock.FromMoeLayers(marked, moe, layout).Single(kv => kv.Value.device_type != DeviceType.META);
                routers.Add((found.Key, source));
            }
            var all = layout == HfExpertLayout.PerExpert ? HfMoeBlock.FromMoeLayers(state, moe, layout) : new Dictionary<string, Tensor>();
            return (all, routers);
        }

        private static Dictionary<string, Tensor> RoutersToPeft(HfMoeConfig moe, Dictionary<string, Tensor> ours)
        {
            var peft = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, source) in PublishedNames(moe).Routers)
                if (ours.TryGetValue(source, out var t)) peft[name] = t;
            return peft;
        }

        /// <summary>The router tensors a fine-tune of <paramref name="moe"/> may change: its parameters (under <see cref="AdapterTargets.Router"/>) and its balance bias.</summary>
        private static IEnumerable<string> RouterKeys(HfMoeConfig moe)
        {
            yield return "router.weight";
            if (moe.RouterBias) yield return "router.bias";
            if (moe.HasBalanceBias) yield return BalanceBiasKey;
        }

        /// <summary>A MoeLayers state on the meta device with every key <see cref="HfMoeBlock.FromMoeLayers"/> reads (shapes only need E first).</summary>
        private static Dictionary<string, Tensor> Placeholders(HfMoeConfig moe)
        {
            long e = moe.NumExperts;
            Tensor Meta(params long[] shape) => empty(shape, device: META);
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal)
            {
                ["router.weight"] = Meta(e, 1),
                ["router.bias"] = Meta(e),
                ["router.correction_bias"] = Meta(e),
                ["shared_experts.gate"] = Meta(1, 1),
            };
            foreach (var projection in ExpertProjections)
            {
                state[$"experts.w_{projection}"] = Meta(e, 1, 1);
                state[$"experts.b_{projection}"] = Meta(e, 1);
                state[$"shared_experts.w_{projection}"] = Meta(1, 1);
            }
            return state;
        }

        private static readonly Device META = new("meta");

        // gpt_oss: A' [E, d, 2r] = [A_gate | A_up] by rank; B' [E, 2r, 2h] block-diagonal, gate ranks → even columns.
        private static IEnumerable<(string, Tensor)> FusedToPeft(Dictionary<string, Tensor> ours)
        {
            Tensor aGate = ours["experts.lora.a_gate"], aUp = ours["experts.lora.a_in"], bGate = ours["experts.lora.b_gate"], bUp = ours["experts.lora.b_in"];
            long e = aGate.shape[0], d = aGate.shape[1], r = aGate.shape[2], h = bGate.shape[2];
            var a = cat(new[] { aGate, aUp }, 2); // [E, d, 2r]
            var b = zeros(e, 2 * r, 2 * h);
            b[TensorIndex.Colon, TensorIndex.Slice(0, r), TensorIndex.Slice(0, null, 2)] = bGate;
            b[TensorIndex.Colon, TensorIndex.Slice(r, null), TensorIndex.Slice(1, null, 2)] = bUp;
            yield return ("experts.base_layer.lora_A.weight", ParamWrapperA(a));
            yield return ("experts.base_layer.lora_B.weight", ParamWrapperB(b));
            yield return ("experts.lora_A.weight", ParamWrapperA(ours["experts.lora.a_out"]));
            yield return ("experts.lora_B.weight", ParamWrapperB(ours["experts.lora.b_out"]));
        }

        private static IEnumerable<(string, Tensor)> FusedFromPeft(HfMoeConfig moe, Dictionary<string, Tensor> peft, string where)
        {
            long e = moe.NumExperts;
            var a = FromParamWrapperA(peft["experts.base_layer.lora_A.weight"], e); // [E, d, 2r]
            var b = FromParamWrapperB(peft["experts.base_layer.lora_B.weight"], e); // [E, 2r, 2h]
            var r = a.shape[2] / 2;
            var gateToUp = b[TensorIndex.Colon, TensorIndex.Slice(0, r), TensorIndex.Slice(1, null, 2)];
            var upToGate = b[TensorIndex.Colon, TensorIndex.Slice(r, null), TensorIndex.Slice(0, null, 2)];
            if (gateToUp.ne(0).any().item<bool>() || upToGate.ne(0).any().item<bool>())
                throw new InvalidDataException(
                    $"{where}: 'experts.base_layer.lora_B.weight' (gate_up_proj's adapter) is not block-diagonal: its gate ranks 0…{r - 1} reach up columns " +
                    $"or its up ranks {r}…{2 * r - 1} reach gate columns, so it is no pair of separate gate and up adapters of rank {r}.");
            yield return ("experts.lora.a_gate", a.narrow(2, 0, r));
            yield return ("experts.lora.a_in", a.narrow(2, r, r));
            yield return ("experts.lora.b_gate", b[TensorIndex.Colon, TensorIndex.Slice(0, r), TensorIndex.Slice(0, null, 2)]);
            yield return ("experts.lora.b_in", b[TensorIndex.Colon, TensorIndex.Slice(r, null), TensorIndex.Slice(1, null, 2)]);
            yield return ("experts.lora.a_out", FromParamWrapperA(peft["experts.lora_A.weight"], e));
            yield return ("experts.lora.b_out", FromParamWrapperB(peft["experts.lora_B.weight"], e));
        }

        /// <summary>A [E, in, r] → ParamWrapper's lora_A.weight [E·r, in] (expert-major rows).</summary>
        private static Tensor ParamWrapperA(Tensor a) => a.transpose(1, 2).reshape(a.shape[0] * a.shape[2], a.shape[1]);

        /// <summary>B [E, r, out] → ParamWrapper's lora_B.weight [out, r·E] (rank-major columns).</summary>
        private static Tensor ParamWrapperB(Tensor b) => b.permute(2, 1, 0).reshape(b.shape[2], b.shape[1] * b.shape[0]);

        private static Tensor FromParamWrapperA(Tensor loraA, long e) => loraA.reshape(e, loraA.shape[0] / e, loraA.shape[1]).transpose(1, 2);

        private static Tensor FromParamWrapperB(Tensor loraB, long e) => loraB.reshape(loraB.shape[0], loraB.shape[1] / e, e).permute(2, 1, 0);

        private static IEnumerable<(string Key, long[] Shape)> ExpertAdapterShapes(long[] lead, long d, long h, long r, bool gated)
        {
            yield return ("lora.a_in", [.. lead, d, r]);
            yield return ("lora.b_in", [.. lead, r, h]);
            if (gated)
            {
                yield return ("lora.a_gate", [.. lead, d, r]);
                yield return ("lora.b_gate", [.. lead, r, h]);
            }
            yield return ("lora.a_out", [.. lead, h, r]);
            yield return ("lora.b_out", [.. lead, r, d]);
        }

        private static bool Gated(HfMoeConfig moe) => moe.Activation is ExpertActivation.SwiGlu or ExpertActivation.ClampedSwiGlu;
    }
}
