using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Deterministic top-k router. <see cref="TopKOrder.SoftmaxThenTopK"/> takes the k largest of softmax(z) and, when
    /// <c>renormalize</c> is on (the default for k &gt; 1, as in Mixtral), rescales them to sum to 1;
    /// <see cref="TopKOrder.TopKThenSoftmax"/> applies softmax to the k largest logits (Shazeer et al. 2017).
    /// </summary>
    internal sealed class TopKRouter : Router
    {
        /// <summary>Creates a top-k router.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="topK">Experts per token k, in [1, E].</param>
        /// <param name="order">Order of softmax and top-k.</param>
        /// <param name="renormalize">Renormalize the k weights to sum to 1 (SoftmaxThenTopK only); null means k &gt; 1.</param>
        /// <param name="name">Module name.</param>
        public TopKRouter(int inputDim, int numExperts, int topK, TopKOrder order = TopKOrder.SoftmaxThenTopK,
            bool? renormalize = null, string name = "topk_router")
            : base(name, inputDim, numExperts, topK, zeroInit: false)
        {
            Guard.Defined(order, nameof(order));
            Order = order;
            Renormalize = renormalize ?? topK > 1;
            RegisterComponents();
        }

        /// <summary>The softmax/top-k order.</summary>
        public TopKOrder Order { get; }

        /// <summary>Whether the k weights are rescaled to sum to 1 (SoftmaxThenTopK only).</summary>
        public bool Renormalize { get; }

        /// <inheritdoc />
        public override RoutingResult Select(Tensor input32, Tensor logits)
        {
            var probabilities = logits.softmax(-1);
            var (indices, weights) = Order == TopKOrder.SoftmaxThenTopK
                ? SoftmaxThenTopK(probabilities, TopK, Renormalize)
                : TopKThenSoftmax(logits, TopK);
            return new RoutingResult(indices, weights, logits, probabilities);
        }
    }
}
