using MoeLayers.Diagnostics;
using MoeLayers.Routing;
using static TorchSharp.torch;

namespace MoeLayers.Layers
{
    /// <summary>What every MoE layer exposes after a forward pass.</summary>
    public interface IMoeLayer
    {
        /// <summary>
        /// The auxiliary loss of the last forward (coefficients applied), a scalar with gradient; add it to the task loss.
        /// It belongs to the dispose scope of that forward. Null before the first forward.
        /// </summary>
        Tensor? AuxiliaryLoss { get; }

        /// <summary>Routing statistics of the last forward, or null before the first forward or when disabled.</summary>
        RoutingStatistics? Statistics { get; }

        /// <summary>The routing decision of the last forward (in that forward's dispose scope), or null.</summary>
        RoutingResult? LastRouting { get; }
    }
}
