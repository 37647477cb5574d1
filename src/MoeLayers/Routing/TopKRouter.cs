using System;
using System.Collections.Generic;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Deterministic top-k router. Affinities s = softmax(z) or sigmoid(z); with a balance bias b the experts are chosen by
    /// s + b but weighted by s; with expert groups only the best groups are searched; the k chosen s are optionally
    /// renormalized (÷ (Σ + 1e-20)) and scaled. The DeepSeek-V3 rule follows Hugging Face's DeepseekV3TopkRouter
    /// (transformers, models/deepseek_v3/modeling_deepseek_v3.py): group score = sum of the group's top-2 of s + b, the
    /// topk_group best groups kept, the experts of the other groups scored 0.0 (not −∞) before the top-k, weights
    /// s.gather(top-k), normalized when k &gt; 1 and norm_topk_prob, times routed_scaling_factor. DeepSeek-V2 scores a
    /// group by its maximum softmax affinity. <see cref="TopKOrder.TopKThenSoftmax"/> applies softmax to the k largest
    /// logits (Shazeer et al. 2017). Ties among affinities (and among group scores) go to the lower expert index. The
    /// logits may carry a learned bias (gpt-oss); the fused selection of an accelerator reads the same logits.
    /// </summary>
    internal sealed class TopKRouter : Router, IRouting
    {
        [ComponentName(Name = "correction_bias")]
        private readonly Tensor? _balanceBias;

        /// <summary>Creates a top-k router with any rule of the family.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="rule">Selection and weighting rule (validated by the options validator); the plain softmax rule by default.</param>
        /// <param name="bias">Add a learned bias [E] to the logits (<see cref="MoeLayerOptions.RouterBias"/>, gpt-oss).</param>
        /// <param name="name">Module name.</param>
        public TopKRouter(int inputDim, int numExperts, TopKRule? rule = null, bool bias = false, string name = "topk_router")
            : base(name, inputDim, numExperts, zeroInit: false, bias)
        {
            rule ??= new TopKRule(TopKOrder.SoftmaxThenTopK, null);
            Guard.Defined(rule.Order, "order");
            Guard.Defined(rule.Score, "score");
            Guard.Defined(rule.GroupScore, "groupScore");
            if (rule.Groups < 1 || numExperts % rule.Groups != 0)
                throw new ArgumentOutOfRangeException(nameof(rule), rule.Groups, $"groups must divide numExperts = {numExperts}; got {rule.Groups}.");
            Guard.InRange(rule.KeptGroups, 1, rule.Groups, "keptGroups");
            Rule = rule;
            if (rule.BalanceBias) _balanceBias = zeros(numExperts, ScalarType.Float32).DetachFromDisposeScope();
            RegisterComponents();
        }

        /// <summary>The selection and weighting rule.</summary>
        public TopKRule Rule { get; }

        /// <summary>The aux-loss-free balance bias b [E] (float32 buffer "correction_bias"; DeepSeek's checkpoints call it
        /// e_score_correction_bias), or null when off.</summary>
        public Tensor? BalanceBias => _balanceBias;

        /// <summary>The fused selection of the accelerator where it serves the plain softmax rule, else <see cref="Select"/>.</summary>
        public override RoutedTokens Route(Tensor flat, RoutingRequest request)
        {
            if (!Rule.IsPlainSoftmax || request.Accelerator is null) return base.Route(flat, request);
            var input32 = flat.to(float32);
            var logits = Logits(input32);
            request.Finite?.Check(flat, logits, "router logits");
            var k = request.TopK;
            return request.Accelerator.TryRouteTopK(logits, k, Rule.Order, Rule.Renormalizes(k)) is { } fused
                ? new RoutedTokens(fused.Routing, Experts(request), fused.DeviceCounts)
                : new RoutedTokens(Select(input32, logits, k, request.Mask), Experts(request));
        }

        /// <inheritdoc />
        public override RoutingResult Select(Tensor input32, Tensor logits, int topK, TokenMask? mask)
        {
            if (Rule.Order == TopKOrder.TopKThenSoftmax)
            {
                var (topIndices, topWeights) = TopKThenSoftmax(logits, topK);
                return new RoutingResult(topIndices, topWeights, logits, logits.softmax(-1));
            }

            var scores = Rule.Score == ScoreFunction.Sigmoid ? logits.sigmoid() : logits.softmax(-1);
            var choice = _balanceBias is null ? scores : scores + _balanceBias.detach();
            if (Rule.Groups > 1) choice = LimitToBestGroups(choice);
            var indices = StableTopKIndices(choice, topK);
            var weights = scores.gather(1, indices);
            // ÷ (Σ + 1e-20), DeepSeek-V3's form. ERNIE 4.5 (softmax scores chosen with its e_score_correction_bias) divides
            // by max(Σ, moe_norm_min = 1e-12) instead (transformers, models/ernie4_5_moe/modeling_ernie4_5_moe.py,
            // Ernie4_5_MoeSparseMoeBlock.forward, commit 01187e21cda13b3f08fdb45b7e32b78d173d702a). In float32 the two
            // divisors are the same number whenever Σ ≥ 1e-12, since 1e-20 is less than half an ulp of such a Σ; they differ
            // only when the chosen experts' probabilities sum to less than 1e-12, where ERNIE's weights sum to Σ/1e-12 < 1.
            if (Rule.Renormalizes(topK)) weights = weights / (weights.sum(-1, keepdim: true) + 1e-20);
            if (Rule.ScalingFactor != 1.0) weights = weights * Rule.ScalingFactor;
            var probabilities = Rule.Score == ScoreFunction.Softmax ? scores : scores / scores.sum(-1, keepdim: true);
            return new RoutingResult(indices, weights, logits, probabilities);
        }

        /// <summary>The k largest entries of each row, ties going to the lower index (a stable descending sort).</summary>
        private static Tensor StableTopKIndices(Tensor scores, int k) =>
            scores.sort(dim: -1, descending: true, stable: true).Indices.narrow(-1, 0, k);

        /// <summary>
        /// Keeps the <see cref="TopKRule.KeptGroups"/> best groups of each token and scores the other groups' experts 0.0,
        /// as the published DeepSeek code does (a negative affinity inside a kept group then loses to them; see the remarks
        /// of the class).
        /// </summary>
        private Tensor LimitToBestGroups(Tensor choice)
        {
            var tokens = choice.shape[0];
            var perGroup = NumExperts / Rule.Groups;
            var grouped = choice.view(tokens, Rule.Groups, perGroup);
            var groupScores = Rule.GroupScore == GroupScore.SumOfTopTwo
                ? grouped.topk(2, dim: -1).values.sum(-1)
                : grouped.max(-1).values;
            var keptGroups = StableTopKIndices(groupScores, Rule.KeptGroups);
            var groupMask = zeros_like(groupScores, ScalarType.Bool).scatter(1, keptGroups, ones_like(keptGroups, ScalarType.Bool));
            var expertMask = groupMask.unsqueeze(-1).expand(tokens, Rule.Groups, perGroup).reshape(tokens, NumExperts);
            return choice.masked_fill(expertMask.logical_not(), 0.0);
        }

        /// <inheritdoc />
        public void MoveBalanceBias(IReadOnlyList<long> loads, double rate)
        {
            if (_balanceBias is null || loads.Count == 0) return;
            var total = 0L;
            foreach (var load in loads) total += load;
            if (total == 0) return;
            var mean = (double)total / loads.Count;
            var step = new float[loads.Count];
            for (var e = 0; e < step.Length; e++) step[e] = (float)(rate * Math.Sign(mean - loads[e]));
            using var noGrad = no_grad();
            using var delta = tensor(step, ScalarType.Float32, _balanceBias.device);
            _balanceBias.add_(delta);
        }
    }
}
