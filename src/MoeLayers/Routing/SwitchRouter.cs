using MoeLayers.Internal;
using static TorchSharp.torch;

namespace MoeLayers.Routing
{
    /// <summary>
    /// Switch Transformer router (Fedus et al. 2021): k = 1, the weight is the full-softmax probability of the chosen
    /// expert (not renormalized, so the router keeps its gradient). Optional multiplicative jitter x·U(1−ε, 1+ε) on the
    /// router input in training.
    /// </summary>
    public sealed class SwitchRouter : Router
    {
        private readonly double _jitter;

        /// <summary>Creates a Switch router.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="jitter">Input jitter ε in [0, 1); 0 disables it.</param>
        /// <param name="name">Module name.</param>
        public SwitchRouter(long inputDim, int numExperts, double jitter = 0.0, string name = "switch_router")
            : base(name, inputDim, numExperts, 1, zeroInit: false)
        {
            Guard.InRange(jitter, 0.0, 1.0, nameof(jitter), maxInclusive: false);
            _jitter = jitter;
            RegisterComponents();
        }

        /// <summary>The jitter ε.</summary>
        public double Jitter => _jitter;

        /// <inheritdoc />
        protected override RoutingResult Route(Tensor input32)
        {
            if (training && _jitter > 0)
            {
                input32 = input32 * empty_like(input32).uniform_(1.0 - _jitter, 1.0 + _jitter);
            }
            var logits = Logits(input32);
            var probabilities = logits.softmax(-1);
            var (weights, indices) = probabilities.max(-1, keepdim: true);
            return new RoutingResult(indices, weights, logits, probabilities);
        }
    }
}
