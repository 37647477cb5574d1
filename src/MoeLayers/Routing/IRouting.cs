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
        RoutedTokens Route(Tensor flat, RoutingRequest request);

        /// <summary>The aux-loss-free balance bias b [E] (float32, selection only), or null when the routing has none.</summary>
        Tensor? BalanceBias => null;

        /// <summary>b += rate·sign(mean load − load) from a step's per-expert (token, slot) loads; nothing without a bias or loads.</summary>
        void MoveBalanceBias(IReadOnlyList<long> loads, double rate)
        {
        }
    }

    /// <summary>
    /// What one forward asks of the routing part: k in the layer's current mode; which tokens are real (expert choice must
    /// not pick padding); the accelerator of this forward's dispatch path, which may make the selection too; the layer's
    /// experts, which a learned router's tokens go to (null where the routing runs experts of its own: AoE's
    /// continuations); and the finite check, or null when it is off.
    /// </summary>
    internal sealed record RoutingRequest(int TopK, TokenMask? Mask, IRoutingAccelerator? Accelerator, IExpertBank? Experts, FiniteCheck? Finite);
}
