using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Expert choice routing (Zhou et al. 2022, arXiv 2202.09368): affinities S = softmax(z) over the experts, then each
    /// expert takes the C tokens with its largest S (C = ceil(cf·k·T/E) over the real tokens), weighted by S. A token may
    /// get any number of experts, none included. The result lists every expert for every token ([T, E]) with
    /// <see cref="RoutingResult.SelectedPairs"/> marking the chosen (token, expert) pairs; weights of the others are 0.
    /// </summary>
    internal sealed class ExpertChoiceRouter : Router
    {
        private readonly double _capacityFactor;
        private readonly int _minCapacity;

        /// <summary>Creates an expert choice router.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="capacityFactor">cf in C = ceil(cf·k·T/E); &gt; 0.</param>
        /// <param name="minCapacity">Lower bound on C (at least 1).</param>
        /// <param name="name">Module name.</param>
        public ExpertChoiceRouter(int inputDim, int numExperts, double capacityFactor, int minCapacity, string name = "expert_choice_router")
            : base(name, inputDim, numExperts, zeroInit: false)
        {
            Guard.InRange(capacityFactor, double.Epsilon, double.MaxValue, nameof(capacityFactor));
            Guard.Positive(minCapacity, nameof(minCapacity));
            _capacityFactor = capacityFactor;
            _minCapacity = minCapacity;
            RegisterComponents();
        }

        /// <summary>The routing, marked as having fixed every expert's load: dispatch applies no capacity of its own.</summary>
        public override RoutedTokens Route(Tensor flat, RoutingRequest request)
        {
            var routed = base.Route(flat, request);
            return routed with { RouterCapacity = CapacityFor(request.Mask?.RealCount ?? flat.shape[0], request.TopK) };
        }

        /// <summary>
        /// Each expert picks its C best real tokens, C = ceil(cf·k·T/E) over the real tokens (k: the average experts per
        /// token); padding is never picked and takes no capacity.
        /// </summary>
        /// <param name="input32">The float32 input (unused).</param>
        /// <param name="logits">Router logits [T, E].</param>
        /// <param name="topK">Average experts per token k.</param>
        /// <param name="mask">Which tokens are real, or null.</param>
        public override RoutingResult Select(Tensor input32, Tensor logits, int topK, TokenMask? mask)
        {
            var tokens = logits.shape[0];
            var probabilities = logits.softmax(-1);
            var realTokens = mask?.RealCount ?? tokens;
            var capacity = CapacityFor(realTokens, topK);
            var eligible = mask is { HasPadding: true } ? probabilities.masked_fill(mask.Values32.eq(0).unsqueeze(1), double.NegativeInfinity) : probabilities;
            var chosenTokens = eligible.t().topk((int)capacity, dim: -1).indexes; // [E, C]
            var selected = zeros(new[] { (long)NumExperts, tokens }, ScalarType.Bool, logits.device)
                .scatter(1, chosenTokens, ones_like(chosenTokens, ScalarType.Bool)).t().contiguous();
            var indices = arange(NumExperts, ScalarType.Int64, logits.device).unsqueeze(0).expand(tokens, NumExperts).contiguous();
            var weights = probabilities * selected.to(ScalarType.Float32);
            return new RoutingResult(indices, weights, logits, probabilities, selectedPairs: selected);
        }

        /// <summary>C = ceil(cf·k·T/E) over the real tokens, at most T (0 without tokens).</summary>
        private long CapacityFor(long realTokens, int topK) =>
            realTokens == 0 ? 0 : System.Math.Min((long)Capacity.Compute(_capacityFactor, realTokens, topK, NumExperts, _minCapacity)!, realTokens);
    }
}
