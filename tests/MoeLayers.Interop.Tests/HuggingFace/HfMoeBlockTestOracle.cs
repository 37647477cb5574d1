using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace
{
    /// <summary>
    /// TEST ORACLE, not library code: an independent float32 recomputation of each family's sparse-MoE block from the
    /// published math, written with plain TorchSharp ops on the loaded tensors. It evaluates every expert densely and
    /// gathers the chosen ones (transformers loops over experts with index_add), so agreeing with the fixtures shows that
    /// the reader, the key names, the layouts and our reading of the routing rules are right.
    /// </summary>
    internal static class HfMoeBlockTestOracle
    {
        internal sealed class Result
        {
            public Result(Tensor output, Tensor routerLogits, Tensor topkIndices, Tensor topkWeights)
            {
                Output = output;
                RouterLogits = routerLogits;
                TopkIndices = topkIndices;
                TopkWeights = topkWeights;
            }

            /// <summary>[T, d].</summary>
            public Tensor Output { get; }

            /// <summary>[T, E], x·W_gateᵀ before softmax or sigmoid.</summary>
            public Tensor RouterLogits { get; }

            /// <summary>[T, k] Int64, ascending per token.</summary>
            public Tensor TopkIndices { get; }

            /// <summary>[T, k], in the order of <see cref="TopkIndices"/>.</summary>
            public Tensor TopkWeights { get; }
        }

        /// <param name="config">The block's config.json.</param>
        /// <param name="w">The block's tensors, keys relative to the block prefix, float32.</param>
        /// <param name="x">[T, d] input.</param>
        public static Result Forward(HfConfig config, IReadOnlyDictionary<string, Tensor> w, Tensor x)
        {
            if (config.String("hidden_act") != "silu") throw new NotSupportedException($"hidden_act '{config.String("hidden_act")}'");
            var modelType = config.ModelType;
            var (gate, up, down) = StackedExperts(config, w);
            var logits = x.matmul(w["gate.weight"].t());
            var k = config.Int("num_experts_per_tok");

            var (indices, weights) = modelType switch
            {
                // Mixtral renormalizes the top-k probabilities unconditionally.
                "mixtral" => SoftmaxTopK(logits, k, renormalize: true),
                // Qwen2-MoE, Qwen3-MoE, OLMoE: renormalize iff norm_topk_prob (their configs default it to false).
                "qwen2_moe" or "qwen3_moe" or "olmoe" => SoftmaxTopK(logits, k, config.Bool("norm_topk_prob", false)),
                "deepseek_v3" => DeepSeekV3Routing(logits, w["gate.e_score_correction_bias"], config),
                _ => throw new NotSupportedException($"model_type '{modelType}'"),
            };

            var output = Combine(x, gate, up, down, indices, weights);
            if (modelType == "qwen2_moe")
            {
                // Shared expert (width shared_expert_intermediate_size) scaled by sigmoid of a one-output gate.
                var shared = SwiGlu(x, w["shared_expert.gate_proj.weight"], w["shared_expert.up_proj.weight"], w["shared_expert.down_proj.weight"]);
                output = output + sigmoid(x.matmul(w["shared_expert_gate.weight"].t())) * shared;
            }
            else if (modelType == "deepseek_v3" && config.Int("n_shared_experts") > 0)
            {
                // n_shared_experts always-on experts, stored as one SwiGLU of width n_shared · moe_intermediate_size.
                output = output + SwiGlu(x, w["shared_experts.gate_proj.weight"], w["shared_experts.up_proj.weight"], w["shared_experts.down_proj.weight"]);
            }

            var (sorted, order) = indices.sort(dim: -1);
            return new Result(output, logits, sorted, weights.gather(1, order));
        }

        /// <summary>Expert weights as [E, h, d] gate, [E, h, d] up, [E, d, h] down, from either published layout.</summary>
        internal static (Tensor Gate, Tensor Up, Tensor Down) StackedExperts(HfConfig config, IReadOnlyDictionary<string, Tensor> w)
        {
            if (w.TryGetValue("experts.gate_up_proj", out var gateUp))
            {
                // transformers v5 fused layout: [E, 2h, d], gate rows first, up rows second (chunk(2, dim=-1) of x·Wᵀ).
                var h = gateUp.shape[1] / 2;
                return (gateUp.narrow(1, 0, h), gateUp.narrow(1, h, h), w["experts.down_proj"]);
            }

            // Per-expert layout: nn.Linear weights [out, in]. Mixtral: w1 = gate, w3 = up, w2 = down.
            var (g, u, d) = config.ModelType == "mixtral" ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
            var experts = Enumerable.Range(0, config.RoutedExperts).ToArray();
            Tensor Stack(string name) => stack(experts.Select(e => w[$"experts.{e}.{name}.weight"]).ToArray(), 0);
            return (Stack(g), Stack(u), Stack(d));
        }

        private static (Tensor Indices, Tensor Weights) SoftmaxTopK(Tensor logits, int k, bool renormalize)
        {
            var probabilities = softmax(logits, -1);
            var (values, indices) = probabilities.topk(k, dim: -1);
            if (renormalize) values = values / values.sum(-1L, keepdim: true);
            return (indices, values);
        }

        /// <summary>
        /// Sigmoid scores; selection on scores + e_score_correction_bias, limited to the topk_group groups with the
        /// largest sum of their two best choices (other experts' choices set to 0.0); weights are the plain scores of the
        /// chosen experts, divided by their sum + 1e-20 when norm_topk_prob, times routed_scaling_factor.
        /// </summary>
        private static (Tensor Indices, Tensor Weights) DeepSeekV3Routing(Tensor logits, Tensor bias, HfConfig config)
        {
            var tokens = logits.shape[0];
            long experts = config.Int("n_routed_experts"), groups = config.Int("n_group");
            var perGroup = experts / groups;
            var scores = sigmoid(logits);
            var choice = scores + bias.unsqueeze(0);
            var groupScores = choice.view(tokens, groups, perGroup).topk(2, dim: -1).values.sum(-1L);
            var (_, keptGroups) = groupScores.topk(config.Int("topk_group"), dim: -1);
            var groupKept = keptGroups.unsqueeze(-1).eq(arange(groups).view(1, 1, groups)).any(1);        // [T, G]
            var expertKept = groupKept.unsqueeze(-1).expand(tokens, groups, perGroup).reshape(tokens, experts);
            var masked = choice.masked_fill(expertKept.logical_not(), 0.0);
            var (_, indices) = masked.topk(config.Int("num_experts_per_tok"), dim: -1);
            var weights = scores.gather(1, indices);
            if (config.Bool("norm_topk_prob", false)) weights = weights / (weights.sum(-1L, keepdim: true) + 1e-20);
            return (indices, weights * config.Double("routed_scaling_factor"));
        }

        /// <summary>Σⱼ wⱼ · Expert_{iⱼ}(x): every expert on every token, then the chosen ones gathered and weighted.</summary>
        private static Tensor Combine(Tensor x, Tensor gate, Tensor up, Tensor down, Tensor indices, Tensor weights)
        {
            var hidden = nn.functional.silu(einsum("td,ehd->eth", x, gate)) * einsum("td,ehd->eth", x, up);
            var all = einsum("eth,edh->ted", hidden, down);                                                  // [T, E, d]
            var picked = all.gather(1, indices.unsqueeze(-1).expand(indices.shape[0], indices.shape[1], x.shape[1]));
            return (picked * weights.unsqueeze(-1)).sum(1L);
        }

        private static Tensor SwiGlu(Tensor x, Tensor gate, Tensor up, Tensor down)
            => (nn.functional.silu(x.matmul(gate.t())) * x.matmul(up.t())).matmul(down.t());
    }
}
