using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Noisy top-k gating (Shazeer et al. 2017): H(x)ᵢ = zᵢ + εᵢ·softplus((x·W_noise)ᵢ), ε ~ N(0, 1), in training only;
    /// keep the k largest H and softmax over them. In evaluation mode the router is deterministic (no noise).
    /// The routing result carries the clean logits, noisy logits and noise scale that the smooth load estimator needs.
    /// </summary>
    internal sealed class NoisyTopKRouter : Router
    {
        [ComponentName(Name = "noise_weight")]
        private readonly Parameter _noiseWeight;

        private readonly double _minNoiseStd;

        /// <summary>Creates a noisy top-k router.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="zeroInit">Start W_r and W_noise at zero, as in the paper (early routing is driven by noise).</param>
        /// <param name="minNoiseStd">Added to softplus so the noise never vanishes (the paper's code uses 0.01); at least 0.</param>
        /// <param name="name">Module name.</param>
        public NoisyTopKRouter(int inputDim, int numExperts, bool zeroInit = true, double minNoiseStd = 1e-2,
            string name = "noisy_topk_router")
            : base(name, inputDim, numExperts, zeroInit)
        {
            Guard.InRange(minNoiseStd, 0, double.MaxValue, nameof(minNoiseStd));
            _minNoiseStd = minNoiseStd;
            _noiseWeight = Init.Parameter(zeroInit ? zeros(numExperts, inputDim, float32) : Init.Uniform(inputDim, numExperts, inputDim));
            RegisterComponents();
        }

        /// <inheritdoc />
        public override RoutingResult Select(Tensor input32, Tensor logits, int topK, TokenMask? mask)
        {
            if (!training)
            {
                var (evalIndices, evalWeights) = TopKThenSoftmax(logits, topK);
                return new RoutingResult(evalIndices, evalWeights, logits, logits.softmax(-1));
            }

            var noiseStd = nn.functional.softplus(nn.functional.linear(input32, _noiseWeight)) + _minNoiseStd;
            var noisy = logits + randn_like(logits) * noiseStd;
            var (indices, weights) = TopKThenSoftmax(noisy, topK);
            return new RoutingResult(indices, weights, logits, noisy.softmax(-1), noisy, noiseStd);
        }
    }
}
