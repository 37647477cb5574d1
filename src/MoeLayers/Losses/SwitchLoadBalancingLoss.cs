using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Switch Transformer / GShard load-balancing loss, without its coefficient: E · Σᵢ fᵢ·Pᵢ, where fᵢ is the fraction
    /// of the k·T (token, slot) assignments that went to expert i (no gradient) and Pᵢ the mean router probability of
    /// expert i (with gradient). Normalized so a perfectly balanced router scores exactly 1.0 for any k (Hugging Face's
    /// Mixtral omits the division by k and scores k instead). Multiply by α (typically 0.01). An empty batch (T = 0) gives 0.
    /// </summary>
    public static class SwitchLoadBalancingLoss
    {
        /// <summary>Computes the loss from a routing result.</summary>
        /// <param name="routing">Router output.</param>
        /// <param name="mask">Optional [T] mask, 1 for real tokens, 0 for padding.</param>
        public static Tensor Compute(RoutingResult routing, Tensor? mask = null) =>
            Compute(routing.Probabilities, routing.ExpertIndices, mask);

        /// <summary>Computes the loss from probabilities [T, E] and chosen experts [T, k].</summary>
        /// <param name="probabilities">Full softmax router probabilities, [T, E].</param>
        /// <param name="expertIndices">Chosen experts, int64 [T, k].</param>
        /// <param name="mask">Optional [T] mask, 1 for real tokens, 0 for padding.</param>
        public static Tensor Compute(Tensor probabilities, Tensor expertIndices, Tensor? mask = null)
        {
            LossInputs.Matrix(probabilities, nameof(probabilities));
            var (tokens, experts) = (probabilities.shape[0], (int)probabilities.shape[1]);
            if (expertIndices.dim() != 2 || expertIndices.shape[0] != tokens)
                throw new ArgumentException($"expertIndices must have shape [{tokens}, k]; got {Guard.Shape(expertIndices)}.", nameof(expertIndices));
            var checkedMask = TokenMask.From(mask, new[] { tokens }, probabilities.device, nameof(mask));
            var chosen = HostCopy.ToArray<long>(expertIndices);
            var topK = expertIndices.shape[1];
            var assigned = new long[experts];
            for (var p = 0; p < chosen.Length; p++)
            {
                if (checkedMask is null || checkedMask.IsReal[(int)(p / topK)]) assigned[chosen[p]]++;
            }
            return FromCounts(probabilities, checkedMask?.Values32, assigned);
        }

        /// <summary>
        /// The loss from a dispatch's per-expert counts: f from <paramref name="assignedPerExpert"/> (the whole batch, every
        /// rank's under expert parallelism), P the mean probability over this process's real tokens (mask already checked).
        /// </summary>
        /// <param name="probabilities">This process's routing probabilities [T, E].</param>
        /// <param name="mask32">Checked float32 mask [T], or null.</param>
        /// <param name="assignedPerExpert">Pairs routed to each expert over the batch.</param>
        internal static Tensor FromCounts(Tensor probabilities, Tensor? mask32, IReadOnlyList<long> assignedPerExpert)
        {
            var pairs = assignedPerExpert.Sum();
            if (pairs == 0 || probabilities.shape[0] == 0) return zeros(Array.Empty<long>(), ScalarType.Float32, probabilities.device);
            var probabilities32 = probabilities.to(ScalarType.Float32);
            var fraction = tensor(assignedPerExpert.Select(c => (float)c).ToArray(), ScalarType.Float32, probabilities.device) / (double)pairs;
            var meanProbability = mask32 is null
                ? probabilities32.mean(new long[] { 0 })
                : (probabilities32 * mask32.unsqueeze(1)).sum(0L) / LossInputs.Count(mask32);
            return fraction.dot(meanProbability) * assignedPerExpert.Count;
        }
    }
}
