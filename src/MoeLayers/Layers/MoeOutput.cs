using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Everything one forward of an MoE layer produced (<see cref="MoeLayer.Run"/>). The tensors belong to the caller's dispose scope.</summary>
    public sealed class MoeOutput
    {
        internal MoeOutput(Tensor output, MeasuredLosses losses, RoutingResult routing, RoutingStatistics? statistics)
        {
            Output = output;
            Losses = losses;
            Routing = routing;
            Statistics = statistics;
        }

        /// <summary>The layer's output [..., out].</summary>
        public Tensor Output { get; }

        /// <summary>α·load-balancing loss + β·z-loss: a float32 scalar with gradient to add to the task loss.</summary>
        public Tensor AuxiliaryLoss => Losses.Auxiliary;

        /// <summary>The load-balancing loss before its coefficient α (0 when disabled).</summary>
        public Tensor LoadBalancingLoss => Losses.LoadBalancing;

        /// <summary>The router z-loss before its coefficient β (0 when disabled).</summary>
        public Tensor ZLoss => Losses.ZLoss;

        /// <summary>The losses with this forward's global-batch part, for the layer's pending losses.</summary>
        internal MeasuredLosses Losses { get; }

        /// <summary>The routing decision for the flattened tokens.</summary>
        public RoutingResult Routing { get; }

        /// <summary>Routing statistics, or null when <see cref="MoeLayerOptions.CollectStatistics"/> is off.</summary>
        public RoutingStatistics? Statistics { get; }
    }
}
