using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Builds the experts part an MoE layer's options describe.</summary>
    internal static class ExpertBanks
    {
        /// <summary>
        /// The <paramref name="count"/> routed experts this process holds (E, or a rank's share) for validated options:
        /// Autonomy-of-Experts' low-rank SwiGLU experts, else the stacked two-layer experts.
        /// </summary>
        public static nn.Module Create(MoeLayerOptions options, int count)
        {
            var o = options;
            return o.Router == RouterKind.AutonomyOfExperts
                ? new LowRankExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.LowRank, o.MemoryOptimizedExperts)
                : new ExpertBank(count, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.Activation, o.ExpertBias, o.MemoryOptimizedExperts);
        }
    }
}
