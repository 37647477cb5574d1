using System;

namespace MoeLayers
{
    /// <summary>
    /// What the routing part of one forward hands to the dispatch step, as one value. Disposing it frees the per-forward
    /// state.
    /// </summary>
    /// <param name="Routing">The routing decision.</param>
    /// <param name="Experts">The experts the dispatcher runs (for Autonomy-of-Experts, experts that continue from this
    /// forward's cached activations).</param>
    /// <param name="DeviceCounts">Per-expert counts an accelerator's routing kernel left on the device, or null.</param>
    /// <param name="PerForwardState">State that lives for this forward only (AoE's cached activations), or null.</param>
    /// <param name="RouterCapacity">The capacity the router already applied to every expert (expert choice), so dispatch
    /// applies none of its own; null when dispatch applies the layer's.</param>
    internal sealed record RoutedTokens(RoutingResult Routing, IExpertBank Experts, object? DeviceCounts = null,
        IDisposable? PerForwardState = null, long? RouterCapacity = null) : IDisposable
    {
        /// <summary>Frees the per-forward state.</summary>
        public void Dispose() => PerForwardState?.Dispose();
    }
}
