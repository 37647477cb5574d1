using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Importance + load balancing loss of Shazeer et al. (2017), without its coefficient: CV²(Importance) + CV²(Load).
    /// Importanceᵢ = Σₓ G(x)ᵢ (the sparse gate values). Loadᵢ = Σₓ Φ((zᵢ(x) − θᵢ(x)) / σᵢ(x)), the smooth probability that
    /// expert i stays in the top k if its noise were resampled (θ is the k-th largest noisy logit among the other experts).
    /// Without noise (deterministic routers, evaluation) only CV²(Importance) is used.
    /// CV²(v) = Var(v) / Mean(v)² with the unbiased sample variance (divide by E − 1), as in the reference implementation;
    /// it is defined as 0 for E = 1.
    /// </summary>
    public static class ImportanceLoadLoss
    {
        /// <summary>Computes CV²(Importance) + CV²(Load), or CV²(Importance) alone when the routing has no noise.</summary>
        /// <param name="routing">Router output.</param>
        /// <param name="mask">Optional [T] mask, 1 for real tokens, 0 for padding.</param>
        public static Tensor Compute(RoutingResult routing, Tensor? mask = null) =>
            ComputeChecked(routing, LossInputs.Checked(mask, routing.TokenCount, routing.Logits.device));

        /// <summary>The loss with a mask the layer has already checked (float32 0/1 [T]).</summary>
        internal static Tensor ComputeChecked(RoutingResult routing, Tensor? mask)
        {
            var gates = Gates(routing.ExpertIndices, routing.CombineWeights, routing.NumExperts);
            var loss = CoefficientOfVariationSquared(Importance(gates, mask));
            if (routing.NoisyLogits is not null && routing.NoiseStd is not null)
            {
                loss = loss + CoefficientOfVariationSquared(SmoothLoad(routing.Logits, routing.NoisyLogits, routing.NoiseStd, routing.TopK, mask));
            }
            return loss;
        }

        /// <summary>Scatters the k combine weights into a dense [T, E] gate matrix G(x).</summary>
        /// <param name="expertIndices">Chosen experts [T, k].</param>
        /// <param name="combineWeights">Their weights [T, k].</param>
        /// <param name="numExperts">E.</param>
        internal static Tensor Gates(Tensor expertIndices, Tensor combineWeights, int numExperts)
        {
            var tokens = expertIndices.shape[0];
            return zeros(new[] { tokens, (long)numExperts }, ScalarType.Float32, combineWeights.device)
                .scatter(1, expertIndices, combineWeights.to(ScalarType.Float32));
        }

        /// <summary>Importanceᵢ = Σₓ G(x)ᵢ over unmasked tokens, [E].</summary>
        /// <param name="gates">Dense gates [T, E].</param>
        /// <param name="mask">Optional [T] mask.</param>
        internal static Tensor Importance(Tensor gates, Tensor? mask = null)
        {
            LossInputs.Matrix(gates, nameof(gates));
            var mask32 = LossInputs.Mask(mask, gates.shape[0], gates.device);
            return (gates.to(ScalarType.Float32) * mask32.unsqueeze(1)).sum(0L);
        }

        /// <summary>
        /// The smooth load estimator, [E]: Σₓ Φ((zᵢ − θᵢ)/σᵢ) where θᵢ is the (k+1)-th largest noisy logit if expert i is
        /// in the top k, else the k-th largest. With k = E every expert is always selected and the load is the token count.
        /// </summary>
        /// <param name="cleanLogits">z [T, E].</param>
        /// <param name="noisyLogits">H = z + ε·σ [T, E].</param>
        /// <param name="noiseStd">σ [T, E], positive.</param>
        /// <param name="topK">k.</param>
        /// <param name="mask">Optional [T] mask.</param>
        internal static Tensor SmoothLoad(Tensor cleanLogits, Tensor noisyLogits, Tensor noiseStd, int topK, Tensor? mask = null)
        {
            LossInputs.Matrix(cleanLogits, nameof(cleanLogits));
            Guard.HasShape(noisyLogits, nameof(noisyLogits), cleanLogits.shape);
            Guard.HasShape(noiseStd, nameof(noiseStd), cleanLogits.shape);
            var experts = cleanLogits.shape[1];
            Guard.InRange(topK, 1, experts, nameof(topK));
            var mask32 = LossInputs.Mask(mask, cleanLogits.shape[0], cleanLogits.device);
            if (topK == experts) return ones(new[] { experts }, ScalarType.Float32, cleanLogits.device) * mask32.sum();

            var top = noisyLogits.topk(topK + 1, dim: 1).values;
            var thresholdIfIn = top.narrow(1, topK, 1);
            var thresholdIfOut = top.narrow(1, topK - 1, 1);
            var isIn = noisyLogits.gt(thresholdIfIn);
            var probabilityIfIn = special.ndtr((cleanLogits - thresholdIfIn) / noiseStd);
            var probabilityIfOut = special.ndtr((cleanLogits - thresholdIfOut) / noiseStd);
            var probability = where(isIn, probabilityIfIn, probabilityIfOut);
            return (probability * mask32.unsqueeze(1)).sum(0L);
        }

        /// <summary>CV²(v) = Var(v)/Mean(v)² with the unbiased variance; 0 for a single element.</summary>
        /// <param name="values">A vector [E].</param>
        internal static Tensor CoefficientOfVariationSquared(Tensor values)
        {
            if (values.dim() != 1) throw new ArgumentException($"values must have shape [E]; got {Guard.Shape(values)}.", nameof(values));
            if (values.shape[0] < 2) return zeros(Array.Empty<long>(), ScalarType.Float32, values.device);
            var v = values.to(ScalarType.Float32);
            return v.var(0L, unbiased: true) / (v.mean().square() + 1e-10);
        }
    }
}
