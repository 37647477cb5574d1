using System;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Autonomy-of-Experts layer (Lv et al. 2025, arXiv 2501.13074): a Mixture-of-Experts layer without a router. Every
    /// expert computes its low-rank activation a_i = x·W_down_i (one fused product for all experts) and scores itself by
    /// s_i = ‖a_i‖₂; the k experts with the largest scores process the token, weighted by softmax(s) over all experts
    /// (optionally renormalized over the k), and continue from their cached a_i: E_i(x) = (SiLU(a_i·W_up_i) ⊙ x·W_in_i)·W_out_i.
    /// Capacity, drop policy, dispatch strategies, the load-balancing loss (on softmax(s)), statistics and the routing of
    /// <see cref="MoeLayerBase.Run"/> (Logits = s, Probabilities = softmax(s)) work as in <see cref="MoeLayer"/>.
    /// Shapes [..., d] → [..., out]. State dict names: experts.w_down, experts.w_up, experts.w_in, experts.w_out.
    /// </summary>
    public sealed class AutonomyOfExpertsLayer : MoeLayerBase
    {
        [ComponentName(Name = "experts")]
        private readonly LowRankExpertBank _experts;

        private readonly bool _renormalize;

        /// <summary>
        /// Creates the layer from validated options with <see cref="MoeLayerOptions.Router"/> =
        /// <see cref="RouterKind.AutonomyOfExperts"/>; throws <see cref="ArgumentException"/> naming each bad field.
        /// </summary>
        /// <param name="options">Layer options.</param>
        /// <param name="name">Module name.</param>
        public AutonomyOfExpertsLayer(MoeLayerOptions options, string name = "aoe")
            : base(name, RequireKind(options))
        {
            var o = LayerOptions;
            _experts = new LowRankExpertBank(o.NumExperts, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.LowRank, o.MemoryOptimizedExperts);
            _renormalize = o.RenormalizeWeights ?? o.TopK > 1;
            RegisterComponents();
        }

        /// <summary>The experts (tests and benchmarks).</summary>
        internal LowRankExpertBank Experts => _experts;

        /// <summary>Rank r of the experts' factorized gate projection.</summary>
        public int LowRank => LayerOptions.LowRank;

        /// <summary>Whether the k weights are rescaled to sum to 1 (softmax-then-top-k only).</summary>
        public bool RenormalizeWeights => _renormalize;

        /// <summary>
        /// The hidden width that gives an AoE expert of rank r as many parameters as a standard SwiGLU expert of width h
        /// (3·d·h, output width d, no biases): r·d + r·h_aoe + 2·d·h_aoe = 3·d·h, so h_aoe = (3·d·h − r·d)/(r + 2·d),
        /// rounded to a multiple of <paramref name="multipleOf"/>. Each unit of width off the exact value costs r + 2·d
        /// parameters per expert. The layer has no router, so a matched AoE layer also has E·d parameters fewer than the
        /// MoE layer.
        /// </summary>
        /// <param name="inputDim">Model width d (at least 1).</param>
        /// <param name="hiddenDim">Hidden width h of the SwiGLU expert to match (at least 1).</param>
        /// <param name="lowRank">Rank r, in [1, d].</param>
        /// <param name="rounding">How h_aoe / <paramref name="multipleOf"/> becomes an integer:
        /// <see cref="MidpointRounding.ToEven"/> (the default) or <see cref="MidpointRounding.AwayFromZero"/> for the
        /// nearest, <see cref="MidpointRounding.ToZero"/> to never exceed the standard expert's parameter count,
        /// <see cref="MidpointRounding.ToPositiveInfinity"/> to never fall below it.</param>
        /// <param name="multipleOf">Round to a multiple of this (at least 1). Matrix products are often markedly faster
        /// for widths that are multiples of 32 or 64 than for the odd widths exact matching gives.</param>
        /// <exception cref="ArgumentException">An argument is out of range, or the rounded width is not positive.</exception>
        public static int ParameterMatchedHiddenDim(int inputDim, int hiddenDim, int lowRank,
            MidpointRounding rounding = MidpointRounding.ToEven, int multipleOf = 1)
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(hiddenDim, nameof(hiddenDim));
            Guard.InRange(lowRank, 1, inputDim, nameof(lowRank));
            Guard.Positive(multipleOf, nameof(multipleOf));
            Guard.Defined(rounding, nameof(rounding));
            var matched = RoundWidth(3L * inputDim * hiddenDim - (long)lowRank * inputDim, (long)lowRank + 2L * inputDim, rounding, multipleOf);
            if (matched < 1 || matched > int.MaxValue)
                throw new ArgumentException(
                    $"No hidden width in [1, {int.MaxValue}] matches d = {inputDim}, h = {hiddenDim}, r = {lowRank}: (3·d·h − r·d)/(r + 2·d) rounds to {matched}" +
                    (multipleOf > 1 ? $" as a multiple of {multipleOf}." : "."),
                    nameof(lowRank));
            return (int)matched;
        }

        /// <summary>
        /// The hidden width that gives an AoE expert of rank r a given parameter count P, for matching experts other than
        /// SwiGLU (a ReLU expert with biases, say): d·r + h'·(r + d + out) = P, so h' = (P − d·r)/(r + d + out).
        /// </summary>
        /// <param name="inputDim">Model width d (at least 1).</param>
        /// <param name="outputDim">Output width out (at least 1).</param>
        /// <param name="lowRank">Rank r, in [1, d].</param>
        /// <param name="parametersPerExpert">The parameter count P to match (at least 1).</param>
        /// <param name="rounding">How the exact quotient becomes an integer, as in <see cref="ParameterMatchedHiddenDim"/>.</param>
        /// <exception cref="ArgumentException">An argument is out of range, or no positive width fits P (P ≤ d·r).</exception>
        public static int HiddenDimForParameterBudget(int inputDim, int outputDim, int lowRank, long parametersPerExpert,
            MidpointRounding rounding = MidpointRounding.ToEven)
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(outputDim, nameof(outputDim));
            Guard.InRange(lowRank, 1, inputDim, nameof(lowRank));
            Guard.Positive(parametersPerExpert, nameof(parametersPerExpert));
            Guard.Defined(rounding, nameof(rounding));
            var width = RoundWidth(parametersPerExpert - (long)inputDim * lowRank, (long)lowRank + inputDim + outputDim, rounding, 1);
            if (width < 1 || width > int.MaxValue)
                throw new ArgumentException(
                    $"No hidden width in [1, {int.MaxValue}] gives {parametersPerExpert} parameters with d = {inputDim}, out = {outputDim}, r = {lowRank}: (P − d·r)/(r + d + out) rounds to {width}.",
                    nameof(parametersPerExpert));
            return (int)width;
        }

        private static decimal RoundWidth(long numerator, long denominator, MidpointRounding rounding, int multipleOf) =>
            Math.Round((decimal)numerator / (denominator * multipleOf), rounding) * multipleOf;

        private protected override RoutedTokens Route(Tensor flat, DispatchPath path, TokenMask? mask)
        {
            var tokens = flat.shape[0];
            var all = _experts.Down(flat);
            Tensor scores;
            using (var perExpert = all.view(tokens, NumExperts, LowRank))
            using (var perExpert32 = perExpert.to(ScalarType.Float32))
            {
                scores = linalg.vector_norm(perExpert32, 2, new[] { -1L });
            }
            ThrowIfNotFinite(flat, scores, "expert scores ‖x·W_down‖");
            var probabilities = scores.softmax(-1);
            var (topScores, indices) = scores.topk(ActiveTopK, dim: -1);
            Tensor weights;
            if (LayerOptions.TopKOrder == TopKOrder.TopKThenSoftmax)
            {
                weights = topScores.softmax(-1);
            }
            else
            {
                weights = probabilities.gather(1, indices);
                if (_renormalize && ActiveTopK > 1) weights = weights / weights.sum(-1, keepdim: true);
            }

            // Only the k selected rows per token go on. The [T, E·r] tensor stays alive only where autograd needs it for
            // the norms' backward (training: softmax over all E norms sends gradient to every expert's W_down); in
            // inference it is freed here, before the experts run.
            var continuation = _experts.Continue(SelectedActivations.Select(all, indices, NumExperts));
            all.Dispose();
            return new RoutedTokens(new RoutingResult(indices, weights, scores, probabilities), continuation, perForwardState: continuation);
        }

        private protected override (Device Device, ScalarType DType) ParameterPlacement() =>
            (_experts.InputWeight.device, _experts.InputWeight.dtype);

        private static MoeLayerOptions RequireKind(MoeLayerOptions options)
        {
            if (options is not null && options.Router != RouterKind.AutonomyOfExperts)
                throw new ArgumentException(
                    $"{nameof(AutonomyOfExpertsLayer)} needs {nameof(MoeLayerOptions)}.{nameof(MoeLayerOptions.Router)} = {nameof(RouterKind.AutonomyOfExperts)}; got {options.Router}. Use {nameof(MoeLayer)} or {nameof(Moe)}.{nameof(Moe.Create)} for learned routers.",
                    nameof(options));
            return options!;
        }
    }
}
