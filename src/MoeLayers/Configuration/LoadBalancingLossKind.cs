namespace MoeLayers.Configuration
{
    /// <summary>Which load-balancing loss an MoE layer adds to its auxiliary loss.</summary>
    public enum LoadBalancingLossKind
    {
        /// <summary>No load-balancing loss.</summary>
        None,

        /// <summary><see cref="Losses.SwitchLoadBalancingLoss"/> (1.0 when balanced).</summary>
        Switch,

        /// <summary><see cref="Losses.ImportanceLoadLoss"/>: CV²(importance) + CV²(load).</summary>
        ImportanceLoad,
    }
}
