using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Global-batch balancing (Qiu et al. 2025, arXiv 2501.11873): the Switch form E·Σᵢ fᵢ·Pᵢ with fᵢ the share of expert
    /// i among all (token, slot) pairs of every micro-batch counted so far in the step, and Pᵢ each micro-batch's mean
    /// routing probability, weighted by its share of the tokens. Formed once the counts are in, so the loss of micro-batches
    /// whose forwards all ran before it is formed equals that of one batch holding them all.
    /// </summary>
    internal static class GlobalBatchBalance
    {
        /// <summary>One micro-batch's part: its mean routing probabilities P [E] (with gradient) and its real tokens.</summary>
        internal sealed record Part(Tensor MeanProbabilities, long Tokens);

        /// <summary>The mean routing probability over the real tokens, [E].</summary>
        public static Part Measure(RoutingResult routing, Tensor? mask32, long realTokens)
        {
            var probabilities = routing.Probabilities.to(ScalarType.Float32);
            var mean = realTokens == 0
                ? zeros(new[] { (long)routing.NumExperts }, ScalarType.Float32, probabilities.device)
                : mask32 is null ? probabilities.mean(new long[] { 0 }) : (probabilities * mask32.unsqueeze(1)).sum(0L) / realTokens;
            return new Part(mean, realTokens);
        }

        /// <summary>E·Σᵢ fᵢ·Σₘ (Tₘ/T)·Pᵢᵐ for the given parts, f from the pair counts of the step; 0 when nothing was counted.</summary>
        /// <param name="parts">Micro-batches whose loss is formed now.</param>
        /// <param name="assignedPerExpert">Pairs routed to each expert over the step so far (all micro-batches).</param>
        /// <param name="device">Device of the result.</param>
        public static Tensor Loss(IReadOnlyList<Part> parts, IReadOnlyList<long> assignedPerExpert, Device device)
        {
            long pairs = 0, tokens = 0;
            foreach (var count in assignedPerExpert) pairs += count;
            foreach (var part in parts) tokens += part.Tokens;
            if (pairs == 0 || tokens == 0 || parts.Count == 0) return zeros(Array.Empty<long>(), ScalarType.Float32, device);
            var experts = assignedPerExpert.Count;
            var share = new float[experts];
            for (var e = 0; e < experts; e++) share[e] = (float)((double)assignedPerExpert[e] / pairs);
            Tensor? mean = null;
            foreach (var part in parts)
            {
                var weighted = part.MeanProbabilities * ((double)part.Tokens / tokens);
                mean = mean is null ? weighted : mean + weighted;
            }
            return tensor(share, ScalarType.Float32, device).dot(mean!) * experts;
        }
    }
}
