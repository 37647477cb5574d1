using System;

namespace MoeLayers
{
    /// <summary>
    /// What the routing step of one forward hands to the dispatch step, as one value: the routing decision, the experts
    /// to run (for Autonomy-of-Experts, experts that continue from this forward's cached activations), and the
    /// accelerator's device-side counts when a fused kernel made the routing. Disposing it frees the per-forward state.
    /// </summary>
    internal sealed class RoutedTokens : IDisposable
    {
        private readonly IDisposable? _perForwardState;

        /// <summary>Creates the hand-off.</summary>
        /// <param name="routing">The routing decision.</param>
        /// <param name="experts">The experts the dispatcher runs.</param>
        /// <param name="deviceCounts">Per-expert counts the accelerator's routing kernel left on the device, or null.</param>
        /// <param name="perForwardState">State that lives for this forward only (AoE's cached activations), or null.</param>
        /// <param name="routerCappedExperts">The router already fixed how many pairs each expert takes (expert choice), so
        /// dispatch applies no capacity of its own.</param>
        public RoutedTokens(RoutingResult routing, IExpertBlocks experts, object? deviceCounts = null, IDisposable? perForwardState = null,
            bool routerCappedExperts = false)
        {
            RouterCappedExperts = routerCappedExperts;
            Routing = routing;
            Experts = experts;
            DeviceCounts = deviceCounts;
            _perForwardState = perForwardState;
        }

        /// <summary>The routing decision.</summary>
        public RoutingResult Routing { get; }

        /// <summary>The experts the dispatcher runs.</summary>
        public IExpertBlocks Experts { get; }

        /// <summary>Counts the accelerator's routing kernel produced for <see cref="Routing"/>, or null.</summary>
        public object? DeviceCounts { get; }

        /// <summary>Whether the router already fixed how many pairs each expert takes.</summary>
        public bool RouterCappedExperts { get; }

        /// <summary>Frees the per-forward state.</summary>
        public void Dispose() => _perForwardState?.Dispose();
    }
}
