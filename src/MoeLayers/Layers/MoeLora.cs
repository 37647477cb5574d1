using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// LoRA fine-tuning of an MoE layer's experts (<see cref="MoeLayerOptions.Lora"/>): turn a trained layer into an adapted
    /// one, fold the adapters into the weights and back, and save or load the adapters alone.
    /// <para>
    /// Adapter keys (the layer's own state-dict names): experts.lora.a_in [E, d, r], experts.lora.b_in [E, r, h],
    /// experts.lora.a_gate [E, d, r], experts.lora.b_gate [E, r, h] (gated activations), experts.lora.a_out [E, h, r],
    /// experts.lora.b_out [E, r, out], for the projections <see cref="LoraOptions.Projections"/> names; the shared experts'
    /// shared_experts.lora.a_in [d, r], .b_in [r, n·h_s], … (<see cref="LoraOptions.AdaptSharedExperts"/>); and the router's
    /// parameters (router.weight, router.bias, router.noise_weight) when <see cref="LoraOptions.TrainRouter"/>. Each
    /// adapted projection W_e [in, out] computes x·W_e + s·(x·A_e)·B_e, s = α/r (α/√r rsLoRA); PEFT's lora_A.weight [r, in]
    /// is A_eᵀ and its lora_B.weight [out, r] is B_eᵀ.
    /// </para>
    /// </summary>
    public static class MoeLora
    {
        /// <summary>
        /// A new layer computing <paramref name="layer"/>'s function (B starts at zero) with LoRA adapters on every routed
        /// expert (and, by <paramref name="lora"/>, the shared experts): its base parameters are copies of
        /// <paramref name="layer"/>'s, on its device and in its dtype, frozen (requires_grad false), the router frozen unless
        /// <see cref="LoraOptions.TrainRouter"/>; the adapters float32 and trainable. Same module name and training mode.
        /// <paramref name="layer"/> is not changed. For expert parallelism build the shards with
        /// <c>ExpertParallel.Create</c> from options with <see cref="MoeLayerOptions.Lora"/> set and load the base with
        /// <c>LoadShardFrom</c> (strict: false for the adapter keys the base lacks).
        /// </summary>
        /// <param name="layer">A layer with stacked two-layer experts on one process, without adapters (not int8, not Autonomy-of-Experts).</param>
        /// <param name="lora">Rank, α, projections and what else is trained.</param>
        public static MoeLayer Apply(MoeLayer layer, LoraOptions lora)
        {
            ArgumentNullException.ThrowIfNull(layer);
            ArgumentNullException.ThrowIfNull(lora);
            var options = layer.Options;
            if (options.Lora is not null) throw new ArgumentException($"MoE layer '{layer.GetName()}' has LoRA adapters already.", nameof(layer));
            if (options.Int8Experts)
                throw new ArgumentException($"MoE layer '{layer.GetName()}' holds int8 experts, which are inference-only: adapt the float layer it was quantized from.", nameof(layer));
            if (options.Router == RouterKind.AutonomyOfExperts)
                throw new ArgumentException($"MoE layer '{layer.GetName()}' routes with Autonomy-of-Experts, whose low-rank experts have no LoRA adapters.", nameof(layer));
            if (layer.FixedDispatcher is not null)
                throw new ArgumentException(
                    $"MoE layer '{layer.GetName()}' is expert-parallel: build its adapted shards with ExpertParallel.Create from options with Lora set and load the base with LoadShardFrom.",
                    nameof(layer));
            options.Lora = lora.Clone();
            var weight = layer.Experts.InputWeight;
            var adapted = new MoeLayer(options, layer.GetName());
            try
            {
                adapted.to(weight.device).to(weight.dtype);
                var adapterKeys = AdapterKeys(adapted).Where(k => k.Split('.').Contains("lora")).ToList();
                MoeStateDict.Load(adapted, layer.state_dict(), strict: true, skip: adapterKeys);
            }
            catch
            {
                adapted.Dispose();
                throw;
            }
            adapted.train(layer.training);
            return adapted;
        }

        /// <summary>
        /// Folds the adapters into the weights in place: W_e += s·A_e·B_e (computed in the adapters' float32, added in the
        /// weights' dtype), for the routed and the adapted shared experts. Forwards then leave the adapters out (and the CPU
        /// decode kernels apply again); a training forward with gradients throws until <see cref="Unmerge"/>. The layer's
        /// state dict then holds the merged weights, which a layer without <see cref="MoeLayerOptions.Lora"/> loads.
        /// </summary>
        /// <param name="layer">A layer with unmerged adapters.</param>
        public static void Merge(MoeLayer layer) => Fold(layer, merge: true);

        /// <summary>
        /// Undoes <see cref="Merge"/>: W_e −= s·A_e·B_e. In float32 the weights return to within rounding of their values
        /// before the merge (in bfloat16 the merge rounded them; reload the base weights for exact values: loading them with
        /// <c>load_state_dict</c> or <c>load</c> also ends the merged state).
        /// </summary>
        /// <param name="layer">A layer with merged adapters.</param>
        public static void Unmerge(MoeLayer layer) => Fold(layer, merge: false);

        /// <summary>
        /// A new layer without adapters (<see cref="MoeLayerOptions.Lora"/> null) whose weights are <paramref name="layer"/>'s
        /// with the updates folded in (W_e + s·A_e·B_e, in the weights' dtype; as they are when the adapters are merged
        /// already), on its device and in its dtype, every parameter trainable, in its training mode: the form to save for
        /// inference, to quantize (<see cref="MoeQuantization.ToInt8Experts"/>) or to fine-tune again. <paramref name="layer"/>
        /// is not changed.
        /// </summary>
        /// <param name="layer">A layer with adapters on one process (not expert-parallel).</param>
        public static MoeLayer MergeAndUnload(MoeLayer layer)
        {
            ArgumentNullException.ThrowIfNull(layer);
            var options = layer.Options;
            if (options.Lora is null) throw new ArgumentException($"MoE layer '{layer.GetName()}' has no LoRA adapters.", nameof(layer));
            if (layer.FixedDispatcher is not null)
                throw new ArgumentException($"MoE layer '{layer.GetName()}' is expert-parallel (it holds {layer.LocalExperts} of {layer.NumExperts} experts); merge a layer that holds all of them.", nameof(layer));
            options.Lora = null;
            var weight = layer.Experts.InputWeight;
            var plain = new MoeLayer(options, layer.GetName());
            try
            {
                plain.to(weight.device).to(weight.dtype);
                var state = layer.state_dict().Where(entry => !IsAdapter(entry.Key)).ToDictionary(entry => entry.Key, entry => entry.Value);
                MoeStateDict.Load(plain, state, strict: true, skip: null, exactDTypes: true);
                if (!IsMerged(layer))
                {
                    var experts = plain.Experts;
                    layer.Experts.Adapters!.AddTo(experts.InputWeight, experts.GateWeight, experts.OutputWeight, 1);
                    if (layer.Shared?.Adapters is { } sharedAdapters)
                        sharedAdapters.AddTo(plain.Shared!.InputWeight, plain.Shared.GateWeight, plain.Shared.OutputWeight, 1);
                }
            }
            catch
            {
                plain.Dispose();
                throw;
            }
            plain.train(layer.training);
            return plain;
        }

        /// <summary>Whether <paramref name="layer"/>'s adapters are merged into its weights (false for a layer without adapters).</summary>
        /// <param name="layer">An MoE layer.</param>
        public static bool IsMerged(MoeLayer layer)
        {
            ArgumentNullException.ThrowIfNull(layer);
            return layer.Options.Lora is not null && layer.Experts.Adapters!.Merged;
        }

        /// <summary>
        /// Copies of the trainable state under LoRA by state-dict key (the class summary lists the keys): the adapters and,
        /// with <see cref="LoraOptions.TrainRouter"/>, the router's parameters. An expert-parallel rank returns its own
        /// experts' adapters ([E/W, …]).
        /// </summary>
        /// <param name="layer">A layer with adapters.</param>
        public static Dictionary<string, Tensor> AdapterStateDict(MoeLayer layer)
        {
            ArgumentNullException.ThrowIfNull(layer);
            var keys = AdapterKeys(layer).ToHashSet();
            var state = new Dictionary<string, Tensor>();
            foreach (var (key, value) in layer.state_dict())
            {
                if (!keys.Contains(key)) continue;
                var copy = value.detach().clone();
                copy.DetachFromDisposeScope();
                state[key] = copy;
            }
            return state;
        }

        /// <summary>
        /// Loads adapters saved with <see cref="AdapterStateDict"/> after checking all of them: a key the layer's adapters
        /// lack, a missing key, or a shape that differs (another expert count, width or rank) throws an
        /// <see cref="ArgumentException"/> naming each key with the expected and the actual shape, and nothing changes. An
        /// expert-parallel rank given adapters of all E experts loads its own rows of the experts.lora.* tensors.
        /// </summary>
        /// <param name="layer">A layer with unmerged adapters.</param>
        /// <param name="adapters">Tensors by adapter key.</param>
        public static void LoadAdapters(MoeLayer layer, IReadOnlyDictionary<string, Tensor> adapters)
        {
            ArgumentNullException.ThrowIfNull(layer);
            ArgumentNullException.ThrowIfNull(adapters);
            if (IsMerged(layer))
                throw new InvalidOperationException($"MoE layer '{layer.GetName()}' has its adapters merged: call MoeLora.Unmerge before loading others.");
            var keys = AdapterKeys(layer);
            var unexpected = adapters.Keys.Where(k => !keys.Contains(k)).ToList();
            if (unexpected.Count > 0)
                throw new ArgumentException(
                    $"The adapters do not fit MoE layer '{layer.GetName()}'; nothing was loaded: unexpected key(s) {string.Join(", ", unexpected.Select(k => $"'{k}'"))} " +
                    $"(its adapter keys: {string.Join(", ", keys)}).", nameof(adapters));
            using var scope = NewDisposeScope();
            var source = new Dictionary<string, Tensor>();
            foreach (var (key, value) in adapters)
            {
                var shard = layer.LocalExperts != layer.NumExperts && key.StartsWith("experts.", StringComparison.Ordinal)
                    && value.dim() >= 1 && value.shape[0] == layer.NumExperts;
                source[key] = shard ? value.narrow(0, layer.FirstExpert, layer.LocalExperts) : value;
            }
            var others = layer.state_dict().Keys.Where(k => !keys.Contains(k)).ToList();
            MoeStateDict.Load(layer, source, strict: true, skip: others);
        }

        /// <summary>Freezes every parameter of a newly built adapted layer except the adapters (and the router's with <see cref="LoraOptions.TrainRouter"/>).</summary>
        internal static void FreezeBase(MoeLayer layer, LoraOptions lora)
        {
            foreach (var (name, parameter) in layer.named_parameters())
                parameter.requires_grad_(IsAdapter(name) || (lora.TrainRouter && name.StartsWith("router.", StringComparison.Ordinal)));
        }

        /// <summary>After a state-dict load: base weights that were loaded no longer hold the adapters' updates.</summary>
        internal static void Reloaded(MoeLayer layer, IEnumerable<string> loadedKeys)
        {
            if (layer.Options.Lora is null) return;
            var keys = loadedKeys.ToHashSet();
            if (keys.Overlaps(new[] { "experts.w_in", "experts.w_gate", "experts.w_out" })) layer.Experts.Adapters!.MarkUnmerged();
            if (keys.Overlaps(new[] { "shared_experts.w_in", "shared_experts.w_gate", "shared_experts.w_out" })) layer.Shared?.Adapters?.MarkUnmerged();
        }

        private static void Fold(MoeLayer layer, bool merge)
        {
            ArgumentNullException.ThrowIfNull(layer);
            if (layer.Options.Lora is null) throw new ArgumentException($"MoE layer '{layer.GetName()}' has no LoRA adapters.", nameof(layer));
            layer.Experts.FoldAdapters(merge);
            if (layer.Shared?.Adapters is not null) layer.Shared.FoldAdapters(merge);
        }

        /// <summary>The layer's adapter keys: every parameter under a lora module, and the router's with <see cref="LoraOptions.TrainRouter"/>.</summary>
        private static List<string> AdapterKeys(MoeLayer layer)
        {
            if (layer.Options.Lora is not { } lora) throw new ArgumentException($"MoE layer '{layer.GetName()}' has no LoRA adapters.", nameof(layer));
            return layer.named_parameters().Select(p => p.name)
                .Where(name => IsAdapter(name) || (lora.TrainRouter && name.StartsWith("router.", StringComparison.Ordinal))).ToList();
        }

        private static bool IsAdapter(string name) => name.Split('.').Contains("lora");
    }
}
