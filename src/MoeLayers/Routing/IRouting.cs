using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The routing part of an MoE layer: picks k experts per token and hands dispatch the decision and the experts to run,
    /// as one value. The learned routers (<see cref="Router"/> and its kinds) and Autonomy-of-Experts' self-routing
    /// (<see cref="AutonomyOfExpertsRouting"/>) implement it; a new routing rule is a new implementation, not a change to the layer.
    /// </summary>
    internal interface IRouting
    {
        /// <summary>Routes flat tokens [T, d] (the layer's dtype) to <see cref="RoutingRequest.TopK"/> experts each.</summary>
        /// <param name="flat">The tokens.</param>
        /// <param name="request">k, the mask, the accelerator, the layer's experts and the finite check of this forward.</param>
        RoutedTokens Route(Tensor flat, RoutingRequest request);

        /// <summary>The aux-loss-free balance bias b [E] (float32, selection only), or null when the routing has none.</summary>
        Tensor? BalanceBias { get; }

        /// <summary>b += γ·sign(mean load − load) from a step's per-expert loads; nothing without a bias or loads.</summary>
        /// <param name="loads">(token, slot) pairs routed to each expert over the step.</param>
        /// <param name="rate">γ.</param>
        void MoveBalanceBias(IReadOnlyList<long> loads, double rate);
    }

    /// <summary>What one forward asks of the routing part.</summary>
    /// <param name="TopK">Experts per token in the layer's current mode.</param>
    /// <param name="Mask">Which tokens are real, or null (expert choice must not pick padding).</param>
    /// <param name="Accelerator">The accelerator of this forward's dispatch path, which may make the selection too, or null.</param>
    /// <param name="Experts">The layer's experts, which a learned router's tokens go to; null where the routing runs experts of its own (AoE's continuations).</param>
    /// <param name="Finite">Refuses NaN or Inf inputs and scores before any expert is picked, or null when the check is off.</param>
    internal sealed record RoutingRequest(int TopK, TokenMask? Mask, IRoutingAccelerator? Accelerator, IExpertBank? Experts, FiniteCheck? Finite);
}
