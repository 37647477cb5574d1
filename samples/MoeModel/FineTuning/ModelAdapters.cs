using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// LoRA on a whole <see cref="MoeCausalLM"/>: adapters on the attention and dense feed-forward projections
    /// (<see cref="AdaptableLinear"/>, PEFT's Linear) and on every expert of every MoE layer (<see cref="MoeLora"/>, the
    /// grouped path), the routers trained in full when asked; everything else frozen. <see cref="MergeAndUnload"/> folds them
    /// back, leaving a plain model that saves as a Hugging Face folder.
    /// </summary>
    /// <remarks>
    /// The adapters' keys are the model's state-dict names: model.layers.{i}.self_attn.q_proj.lora_A.weight [r, in] and
    /// .lora_B.weight [out, r] (likewise k/v/o_proj and a dense layer's mlp.gate_proj / up_proj / down_proj), and under a
    /// MoE block's prefix MoeLora's experts.lora.a_in [E, d, r] … and shared_experts.lora.* (and router.weight,
    /// router.bias with <see cref="AdapterTargets.Router"/>). <see cref="TrainedTensors"/> lists them, with the balance
    /// biases training moves.
    /// </remarks>
    public static class ModelAdapters
    {
        /// <summary>
        /// Freezes every parameter of <paramref name="model"/>, then adds trainable float32 adapters of rank r and scale s to
        /// the parts <see cref="AdapterSettings.Targets"/> names (B zero: the model computes what it did), and unfreezes the
        /// routers with <see cref="AdapterTargets.Router"/>. The MoE blocks are replaced by adapted copies under the same
        /// names (the old ones are disposed).
        /// </summary>
        /// <param name="model">A model without adapters.</param>
        /// <param name="settings">Rank, α and targets.</param>
        public static void Apply(MoeCausalLM model, AdapterSettings settings)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(settings);
            settings.Validate();
            if (model.Adapters is not null) throw new InvalidOperationException($"the model carries LoRA adapters already (rank {model.Adapters.Rank}).");
            var layers = model.Decoder.Layers.ToList();
            // The MoE blocks first: MoeLora.Apply is the step that can refuse, and nothing has changed before it returns.
            var adaptedBlocks = new Dictionary<int, MoeLayer>();
            try
            {
                if (settings.Targets.HasFlag(AdapterTargets.Experts))
                {
                    for (var i = 0; i < layers.Count; i++)
                        if (layers[i].Moe is { } block) adaptedBlocks[i] = MoeLora.Apply(block, settings.ToLoraOptions());
                }
            }
            catch
            {
                foreach (var block in adaptedBlocks.Values) block.Dispose();
                throw;
            }

            foreach (var parameter in model.parameters()) parameter.requires_grad = false;
            // MoeLora.Apply's copies come frozen but for their adapters (and routers with TrainRouter).
            foreach (var (i, adapted) in adaptedBlocks) layers[i].ReplaceMoe(adapted).Dispose();
            if (settings.Targets.HasFlag(AdapterTargets.Router) && !settings.Targets.HasFlag(AdapterTargets.Experts))
            {
                foreach (var block in layers.Select(l => l.Moe).OfType<MoeLayer>())
                    foreach (var (name, parameter) in block.named_parameters())
                        if (name.StartsWith("router.", StringComparison.Ordinal)) parameter.requires_grad = true;
            }
            foreach (var (_, projection) in Projections(model, settings.Targets)) projection.AddAdapter(settings.Rank, settings.Scale);
            model.Adapters = settings;
        }

        /// <summary>
        /// Folds every adapter into its weights (W += s·B·A, in float32, rounded once to the weights' dtype), removes the
        /// adapters, and freezes every parameter: the model is then a plain one (<see cref="MoeCausalLM.Adapters"/> null) that
        /// <see cref="MoeCausalLM.Save"/> writes as a Hugging Face folder. Trained routers keep their trained weights.
        /// </summary>
        /// <param name="model">A model with adapters.</param>
        public static void MergeAndUnload(MoeCausalLM model)
        {
            ArgumentNullException.ThrowIfNull(model);
            var settings = model.Adapters ?? throw new InvalidOperationException("the model carries no LoRA adapters to merge.");
            foreach (var layer in model.Decoder.Layers)
            {
                if (layer.Moe is { } block && block.Options.Lora is not null)
                    layer.ReplaceMoe(MoeLora.MergeAndUnload(block)).Dispose();
            }
            foreach (var (_, projection) in Projections(model, settings.Targets)) projection.MergeAdapter();
            foreach (var parameter in model.parameters()) parameter.requires_grad = false;
            model.Adapters = null;
        }

        /// <summary>
        /// What a fine-tune changes, by state-dict key, as the model's own tensors: every parameter that requires gradients
        /// (a LoRA model's adapters and trained routers, or a fully fine-tuned model's every parameter) and every
        /// aux-loss-free balance bias (router.correction_bias, a buffer <see cref="MoeLoadBalancing.AfterOptimizerStep"/>
        /// moves).
        /// </summary>
        /// <param name="model">The model.</param>
        public static Dictionary<string, Tensor> TrainedTensors(MoeCausalLM model)
        {
            ArgumentNullException.ThrowIfNull(model);
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, parameter) in model.named_parameters())
                if (parameter.requires_grad) tensors[name] = parameter;
            foreach (var (name, buffer) in model.named_buffers())
                if (name.EndsWith(".router.correction_bias", StringComparison.Ordinal)) tensors[name] = buffer;
            return tensors;
        }

        /// <summary>Copies of <see cref="TrainedTensors"/>, by key (outliving the caller's dispose scope).</summary>
        /// <param name="model">The model.</param>
        public static Dictionary<string, Tensor> TrainedState(MoeCausalLM model)
        {
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (key, tensor) in TrainedTensors(model))
            {
                var copy = tensor.detach().clone();
                copy.DetachFromDisposeScope();
                state[key] = copy;
            }
            return state;
        }

        /// <summary>
        /// Copies <paramref name="state"/> into <see cref="TrainedTensors"/> after checking all of it: the keys must be
        /// exactly those and every shape equal; otherwise an <see cref="ArgumentException"/> names each key (and
        /// <paramref name="source"/>) and nothing changes.
        /// </summary>
        /// <param name="model">The model (with the adapters already applied, for LoRA).</param>
        /// <param name="state">Tensors by state-dict key.</param>
        /// <param name="source">Where the tensors come from, for messages (a file path).</param>
        public static void LoadTrainedState(MoeCausalLM model, IReadOnlyDictionary<string, Tensor> state, string source)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(state);
            var targets = TrainedTensors(model);
            var problems = new List<string>();
            foreach (var (key, tensor) in targets)
            {
                if (!state.TryGetValue(key, out var value)) problems.Add($"missing '{key}' (expected [{string.Join(", ", tensor.shape)}])");
                else if (!value.shape.SequenceEqual(tensor.shape))
                    problems.Add($"'{key}' is [{string.Join(", ", value.shape)}], expected [{string.Join(", ", tensor.shape)}]");
            }
            problems.AddRange(state.Keys.Where(k => !targets.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).Select(k => $"unexpected '{k}' (not trained in this model)"));
            if (problems.Count > 0)
                throw new ArgumentException($"{source} does not fit the model's trained tensors; nothing was loaded: {string.Join("; ", problems)}.", nameof(state));
            using var noGrad = no_grad();
            foreach (var (key, tensor) in targets) tensor.copy_(state[key]);
        }

        /// <summary>The adaptable projections <paramref name="targets"/> covers, by module path.</summary>
        private static List<(string Name, AdaptableLinear Projection)> Projections(MoeCausalLM model, AdapterTargets targets)
        {
            var result = new List<(string, AdaptableLinear)>();
            foreach (var (name, module) in model.named_modules())
            {
                if (module is not AdaptableLinear projection) continue;
                var inAttention = name.Contains(".self_attn.", StringComparison.Ordinal);
                if (inAttention ? targets.HasFlag(AdapterTargets.Attention) : targets.HasFlag(AdapterTargets.DenseMlp)) result.Add((name, projection));
            }
            return result;
        }
    }
}
