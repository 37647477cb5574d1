using System;

namespace MoeLayers.Samples.MoeModel.Evaluation
{
    /// <summary>A model's perplexity over a token sequence.</summary>
    /// <param name="ScoredTokens">Tokens predicted and scored.</param>
    /// <param name="NegativeLogLikelihood">Mean −log p(token | earlier tokens in its window), in nats.</param>
    /// <param name="Windows">Forwards run.</param>
    /// <param name="Seconds">Wall time of the forwards and the scoring.</param>
    public sealed record PerplexityResult(long ScoredTokens, double NegativeLogLikelihood, int Windows, double Seconds)
    {
        /// <summary>exp(mean negative log-likelihood).</summary>
        public double Perplexity => Math.Exp(NegativeLogLikelihood);

        /// <summary>Scored tokens per second.</summary>
        public double TokensPerSecond => Seconds > 0 ? ScoredTokens / Seconds : 0;

        /// <inheritdoc />
        public override string ToString() =>
            $"perplexity {Perplexity:F4} (mean NLL {NegativeLogLikelihood:F5} nats) over {ScoredTokens} tokens in {Windows} windows, {TokensPerSecond:F1} tokens/s";
    }
}
