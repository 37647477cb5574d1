namespace MoeLayers
{
    /// <summary>Which routing rule an MoE layer uses.</summary>
    public enum RouterKind
    {
        /// <summary>
        /// Deterministic top-k (Mixtral, Qwen, OLMoE; with <see cref="MoeLayerOptions.ScoreFunction"/>, groups, bias and
        /// scaling also DeepSeek-V2/V3).
        /// </summary>
        TopK,

        /// <summary>Noisy top-k gating of Shazeer et al. 2017.</summary>
        NoisyTopK,

        /// <summary>Switch routing, k = 1.</summary>
        Switch,

        /// <summary>
        /// Autonomy-of-Experts (Lv et al. 2025): no router; each expert scores itself by the norm of its own low-rank
        /// activation (<see cref="AutonomyOfExpertsRouting"/>). Needs <see cref="MoeLayerOptions.LowRank"/>, SwiGLU
        /// experts, no expert biases and no z-loss.
        /// </summary>
        AutonomyOfExperts,

        /// <summary>
        /// Expert choice (Zhou et al. 2022, arXiv 2202.09368): each expert takes its top-C tokens by softmax affinity,
        /// C = ceil(cf·k·T/E) with cf = <see cref="MoeLayerOptions.CapacityFactor"/> (1 when null); a token may get any
        /// number of experts; <see cref="RoutingStatistics.Capacity"/> reports C. Needs two settings that differ from the
        /// defaults: <see cref="MoeLayerOptions.LoadBalancingLoss"/> = <see cref="LoadBalancingLossKind.None"/> (balanced
        /// by construction: every expert takes exactly C tokens), and <see cref="MoeLayerOptions.Causal"/> = false (a
        /// token's routing depends on the other tokens of the batch, later ones included, which leaks the future in a
        /// decoder). <see cref="MoeLayerOptions.EvalTopK"/> stays 0, and the dispatch is the TorchSharp one.
        /// </summary>
        ExpertChoice,
    }
}
