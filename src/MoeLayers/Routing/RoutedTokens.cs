using System;

namespace MoeLayers
{
    /// <summary>
    /// What the routing part of one forward hands to the dispatch step, as one value: the routing decision, the experts
    /// to run (for Autonomy-of-Experts, experts that continue from this forward's cached activations), the accelerator's
    /// device-side counts when a fused kernel made the routing, and the capacity when the router itself fixed every
    /// expert's load (expert choice). Disposing it frees the per-forward state.
    /// </summary>
    internal sealed class RoutedTokens : IDisposable
    {
        private readonly IDisposable? _perForwardState;

        /// <summary>Creates the hand-off.</summary>
        /// <param name="routing">The routing decision.</param>
        /// <param name="experts">The experts the dispatcher runs.</param>
        /// <param name="deviceCounts">Per-expert counts the accelerator's routing kernel left on the device, or null.</param>
        /// <param name="perForwardState">State that lives for this forward only (AoE's cached activations), or null.</param>
        /// <param name="routerCapacity">The capacity the router already applied to every expert (expert choice), so
        /// dispatch applies none of its own; null when dispatch applies the layer's.</param>
        public RoutedTokens(RoutingResult routing, IExpertBank experts, object? deviceCounts = null, IDisposable? perForwardState = null,
            long? routerCapacity = null)
        {
            Routing = routing;
            Experts = experts;
            DeviceCounts = deviceCounts;
            RouterCapacity = routerCapacity;
            _perForwardState = perForwardState;
        }

        /// <summary>The routing decision.</summary>
        public RoutingResult Routing { get; }

        /// <summary>The experts the dispatcher runs.</summary>
        public IExpertBank Experts { get; }

        /// <summary>Counts the accelerator's routing kernel produced for <see cref="Routing"/>, or null.</summary>
        public object? DeviceCounts { get; }

        /// <summary>The capacity the router applied itself (expert choice), or null.</summary>
        public long? RouterCapacity { get; }

        /// <summary>Frees the per-forward state.</summary>
        public void Dispose() => _perForwardState?.Dispose();
    }
}
