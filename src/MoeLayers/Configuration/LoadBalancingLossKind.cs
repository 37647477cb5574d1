namespace MoeLayers
{
    /// <summary>Which load-balancing loss an MoE layer adds to its auxiliary loss.</summary>
    public enum LoadBalancingLossKind
    {
        /// <summary>No load-balancing loss.</summary>
        None,

        /// <summary><see cref="SwitchLoadBalancingLoss"/> (1.0 when balanced).</summary>
        Switch,

        /// <summary><see cref="ImportanceLoadLoss"/>: CV²(importance) + CV²(load).</summary>
        ImportanceLoad,
    }
}
