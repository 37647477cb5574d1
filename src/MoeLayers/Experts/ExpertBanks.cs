using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Builds the experts part an MoE layer's options describe.</summary>
    internal static class ExpertBanks
    {
        /// <summary>
        /// The routed experts for <paramref name="options"/>: Autonomy-of-Experts' low-rank SwiGLU experts for
        /// <see cref="RouterKind.AutonomyOfExperts"/>, else the stacked two-layer experts.
        /// </summary>
        /// <param name="options">Validated layer options.</param>
        /// <param name="count">Experts this process holds (E, or an expert-parallel rank's share).</param>
        public static nn.Module Create(MoeLayerOptions options, int count)
        {
            var o = options;
            return o.Router == RouterKind.AutonomyOfExperts
                ? new LowRankExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.LowRank, o.MemoryOptimizedExperts)
                : new ExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.Activation, o.ExpertBias, o.MemoryOptimizedExperts);
        }
    }
}
