using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Everything one forward of an MoE layer produced (<see cref="MoeLayerBase.Run"/>). The tensors belong to the caller's dispose scope.</summary>
    public sealed class MoeOutput
    {
        internal MoeOutput(Tensor output, Tensor auxiliaryLoss, Tensor loadBalancingLoss, Tensor zLoss, RoutingResult routing,
            RoutingStatistics? statistics)
        {
            Output = output;
            AuxiliaryLoss = auxiliaryLoss;
            LoadBalancingLoss = loadBalancingLoss;
            ZLoss = zLoss;
            Routing = routing;
            Statistics = statistics;
        }

        /// <summary>The layer's output [..., out].</summary>
        public Tensor Output { get; }

        /// <summary>α·load-balancing loss + β·z-loss: a float32 scalar with gradient to add to the task loss.</summary>
        public Tensor AuxiliaryLoss { get; }

        /// <summary>The load-balancing loss before its coefficient α (0 when disabled).</summary>
        public Tensor LoadBalancingLoss { get; }

        /// <summary>The router z-loss before its coefficient β (0 when disabled).</summary>
        public Tensor ZLoss { get; }

        /// <summary>The routing decision for the flattened tokens.</summary>
        public RoutingResult Routing { get; }

        /// <summary>Routing statistics, or null when <see cref="MoeLayerOptions.CollectStatistics"/> is off.</summary>
        public RoutingStatistics? Statistics { get; }
    }
}
