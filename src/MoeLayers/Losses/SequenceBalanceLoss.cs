using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// DeepSeek-V3's sequence-wise balance loss (eq. 17–20), without its coefficient: for each sequence of S tokens,
    /// Pᵢ = (1/S)·Σₜ s'ᵢₜ with the affinities normalized per token (s' = s/Σⱼsⱼ, what <see cref="RoutingResult.Probabilities"/>
    /// holds), fᵢ = E/(k·S)·Σₜ 1[i ∈ top-k(t)], L = Σᵢ fᵢ·Pᵢ, averaged over the sequences. Exactly 1 when every sequence is
    /// balanced. Padding (mask 0) is left out of S, f and P; a sequence of padding only counts as 0.
    /// </summary>
    public static class SequenceBalanceLoss
    {
        /// <summary>Computes the loss for tokens laid out as <paramref name="sequences"/> sequences of equal length.</summary>
        /// <param name="routing">Router output for T = sequences·S tokens, sequence-major (token t of sequence b at b·S + t).</param>
        /// <param name="sequences">Number of sequences B (at least 1, dividing T).</param>
        /// <param name="mask">Optional [T] mask, bool or 0/1: 1 for real tokens, 0 for padding.</param>
        public static Tensor Compute(RoutingResult routing, long sequences, Tensor? mask = null)
        {
            ArgumentNullException.ThrowIfNull(routing);
            return ComputeChecked(routing, sequences, LossInputs.Checked(mask, routing.TokenCount, routing.Logits.device));
        }

        /// <summary>The loss with a mask the layer has already checked (float32 0/1 [T]).</summary>
        internal static Tensor ComputeChecked(RoutingResult routing, long sequences, Tensor? mask32)
        {
            var tokens = routing.TokenCount;
            if (sequences < 1 || tokens % sequences != 0)
                throw new ArgumentOutOfRangeException(nameof(sequences), sequences, $"sequences must be at least 1 and divide the {tokens} tokens; got {sequences}.");
            if (tokens == 0) return zeros(Array.Empty<long>(), ScalarType.Float32, routing.Logits.device);
            var length = tokens / sequences;
            var experts = routing.NumExperts;
            var k = routing.TopK;
            var device = routing.Logits.device;
            var real = LossInputs.Mask(mask32, tokens, device).view(sequences, length, 1);
            var realPerSequence = real.sum(1); // [B, 1]
            var chosen = zeros(new[] { tokens, (long)experts }, ScalarType.Float32, device)
                .scatter(1, routing.ExpertIndices, ones(routing.ExpertIndices.shape, ScalarType.Float32, device))
                .view(sequences, length, experts);
            var count = realPerSequence.clamp_min(1.0);
            var fraction = (chosen * real).sum(1) * (experts / (double)k) / count; // f [B, E], no gradient
            var meanAffinity = (routing.Probabilities.to(ScalarType.Float32).view(sequences, length, experts) * real).sum(1) / count; // P [B, E]
            var perSequence = (fraction.detach() * meanAffinity).sum(-1); // [B]
            return perSequence.mean();
        }
    }
}
