using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Switch Transformer router (Fedus et al. 2021): k = 1, the weight is the full-softmax probability of the chosen
    /// expert (not renormalized, so the router keeps its gradient). Optional multiplicative jitter x·U(1−ε, 1+ε) on the
    /// router input in training.
    /// </summary>
    internal sealed class SwitchRouter : Router
    {
        /// <summary>Creates a Switch router.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="jitter">Input jitter ε in [0, 1); 0 disables it.</param>
        /// <param name="name">Module name.</param>
        public SwitchRouter(int inputDim, int numExperts, double jitter = 0.0, string name = "switch_router")
            : base(name, inputDim, numExperts, zeroInit: false)
        {
            Guard.InRange(jitter, 0.0, 1.0, nameof(jitter), maxInclusive: false);
            Jitter = jitter;
            RegisterComponents();
        }

        /// <summary>The jitter ε.</summary>
        public double Jitter { get; }

        /// <summary>Logits of the input, jittered by x·U(1−ε, 1+ε) in training when ε &gt; 0.</summary>
        public override Tensor Logits(Tensor input32) =>
            base.Logits(training && Jitter > 0 ? input32 * empty_like(input32).uniform_(1.0 - Jitter, 1.0 + Jitter) : input32);

        /// <inheritdoc />
        /// <remarks>Switch routing sends every token to one expert: <paramref name="topK"/> must be 1.</remarks>
        public override RoutingResult Select(Tensor input32, Tensor logits, int topK, TokenMask? mask)
        {
            if (topK != 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, "a Switch router sends each token to exactly one expert (k = 1).");
            var probabilities = logits.softmax(-1);
            var (weights, indices) = probabilities.max(-1, keepdim: true);
            return new RoutingResult(indices, weights, logits, probabilities);
        }
    }
}
