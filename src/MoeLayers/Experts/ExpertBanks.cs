using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Builds the experts part an MoE layer's options describe.</summary>
    internal static class ExpertBanks
    {
        /// <summary>
        /// The <paramref name="count"/> routed experts this process holds (E, or a rank's share) for validated options:
        /// Autonomy-of-Experts' low-rank SwiGLU experts, else the stacked two-layer experts (int8 weight-only with
        /// <see cref="MoeLayerOptions.Int8Experts"/>).
        /// </summary>
        public static nn.Module Create(MoeLayerOptions options, int count)
        {
            var o = options;
            if (o.Router == RouterKind.AutonomyOfExperts)
                return new LowRankExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.LowRank, o.MemoryOptimizedExperts);
            return o.Int8Experts
                ? new Int8ExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, ActivationFunction.From(o), o.ExpertBias)
                : new ExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, ActivationFunction.From(o), o.ExpertBias, o.MemoryOptimizedExperts, o.Lora);
        }

        /// <summary>
        /// The first projection of an experts part, whose device and dtype the layer's inputs must match (for int8 experts,
        /// its float32 scales: the activations' dtype).
        /// </summary>
        public static Tensor InputWeight(nn.Module experts) => experts switch
        {
            ExpertBank bank => bank.InputWeight,
            LowRankExpertBank lowRank => lowRank.InputWeight,
            Int8ExpertBank int8 => int8.InputScale,
            _ => throw new System.ArgumentException($"No experts part of type {experts.GetType().Name}.", nameof(experts)),
        };
    }
}
