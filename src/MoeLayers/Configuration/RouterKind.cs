namespace MoeLayers.Configuration
{
    /// <summary>Which routing rule an MoE layer uses.</summary>
    public enum RouterKind
    {
        /// <summary>Deterministic top-k (<see cref="Routing.TopKRouter"/>).</summary>
        TopK,

        /// <summary>Noisy top-k gating of Shazeer et al. 2017 (<see cref="Routing.NoisyTopKRouter"/>).</summary>
        NoisyTopK,

        /// <summary>Switch routing, k = 1 (<see cref="Routing.SwitchRouter"/>).</summary>
        Switch,
    }
}
