namespace MoeLayers
{
    /// <summary>Which routing rule an MoE layer uses.</summary>
    public enum RouterKind
    {
        /// <summary>Deterministic top-k (<see cref="TopKRouter"/>).</summary>
        TopK,

        /// <summary>Noisy top-k gating of Shazeer et al. 2017 (<see cref="NoisyTopKRouter"/>).</summary>
        NoisyTopK,

        /// <summary>Switch routing, k = 1 (<see cref="SwitchRouter"/>).</summary>
        Switch,

        /// <summary>
        /// Autonomy-of-Experts (Lv et al. 2025): no router; each expert scores itself by the norm of its own low-rank
        /// activation (<see cref="AutonomyOfExpertsLayer"/>). Needs <see cref="MoeLayerOptions.LowRank"/>, SwiGLU
        /// experts, no expert biases and no z-loss.
        /// </summary>
        AutonomyOfExperts,
    }
}
