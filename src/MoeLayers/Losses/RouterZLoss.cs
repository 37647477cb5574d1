using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Router z-loss (ST-MoE, Zoph et al. 2022), without its coefficient: mean over tokens of (logsumexpⱼ zⱼ)².
    /// Keeps router logits small so the softmax stays numerically stable. Multiply by β (typically 0.001). An empty
    /// batch (T = 0) gives 0.
    /// </summary>
    public static class RouterZLoss
    {
        /// <summary>Computes the loss from a routing result's clean logits.</summary>
        /// <param name="routing">Router output.</param>
        /// <param name="mask">Optional [T] mask, 1 for real tokens, 0 for padding.</param>
        public static Tensor Compute(RoutingResult routing, Tensor? mask = null) => Compute(routing.Logits, mask);

        /// <summary>Computes the loss from logits [T, E].</summary>
        /// <param name="logits">Router logits [T, E].</param>
        /// <param name="mask">Optional [T] mask, 1 for real tokens, 0 for padding.</param>
        public static Tensor Compute(Tensor logits, Tensor? mask = null)
        {
            LossInputs.Matrix(logits, nameof(logits));
            return Core(logits, LossInputs.Checked(mask, logits.shape[0], logits.device));
        }

        /// <summary>The loss with a mask the layer has already checked (float32 0/1 [T]).</summary>
        internal static Tensor ComputeChecked(RoutingResult routing, Tensor? mask32) => Core(routing.Logits, mask32);

        private static Tensor Core(Tensor logits, Tensor? mask)
        {
            LossInputs.Matrix(logits, nameof(logits));
            if (logits.shape[0] == 0) return zeros(System.Array.Empty<long>(), ScalarType.Float32, logits.device);
            var squared = logits.to(ScalarType.Float32).logsumexp(1).square();
            if (mask is null) return squared.mean();
            var mask32 = LossInputs.Mask(mask, logits.shape[0], logits.device);
            return (squared * mask32).sum() / LossInputs.Count(mask32);
        }
    }
}
