using MoeLayers.Configuration;
using MoeLayers.Dispatch;
using static TorchSharp.torch;

namespace MoeLayers.Routing
{
    /// <summary>
    /// Deterministic top-k router. <see cref="TopKOrder.SoftmaxThenTopK"/> takes the k largest of softmax(z) and, when
    /// <c>renormalize</c> is on (the default for k &gt; 1, as in Mixtral), rescales them to sum to 1;
    /// <see cref="TopKOrder.TopKThenSoftmax"/> applies softmax to the k largest logits (Shazeer et al. 2017).
    /// </summary>
    public sealed class TopKRouter : Router
    {
        private readonly TopKOrder _order;
        private readonly bool _renormalize;

        /// <summary>Creates a top-k router.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="topK">Experts per token k, in [1, E].</param>
        /// <param name="order">Order of softmax and top-k.</param>
        /// <param name="renormalize">Renormalize the k weights to sum to 1 (SoftmaxThenTopK only); null means k &gt; 1.</param>
        /// <param name="name">Module name.</param>
        public TopKRouter(long inputDim, int numExperts, int topK, TopKOrder order = TopKOrder.SoftmaxThenTopK,
            bool? renormalize = null, string name = "topk_router")
            : base(name, inputDim, numExperts, topK, zeroInit: false)
        {
            _order = order;
            _renormalize = renormalize ?? topK > 1;
            RegisterComponents();
        }

        /// <summary>The softmax/top-k order.</summary>
        public TopKOrder Order => _order;

        /// <summary>Whether the k weights are rescaled to sum to 1 (SoftmaxThenTopK only).</summary>
        public bool Renormalize => _renormalize;

        /// <summary>Whether CUDA logits may use the fused selection kernel of MoeLayers.Cuda (the layer passes its option).</summary>
        internal CudaDispatchMode CudaRouting { get; set; } = CudaDispatchMode.Auto;

        /// <inheritdoc />
        protected override RoutingResult Route(Tensor input32)
        {
            var logits = Logits(input32);
            if (DispatchAccelerators.TryRouteTopK(CudaRouting, logits, TopK, _order, _renormalize) is { } fused) return fused;
            var probabilities = logits.softmax(-1);
            var (indices, weights) = _order == TopKOrder.SoftmaxThenTopK
                ? SoftmaxThenTopK(probabilities, TopK, _renormalize)
                : TopKThenSoftmax(logits, TopK);
            return new RoutingResult(indices, weights, logits, probabilities);
        }
    }
}
