namespace MoeLayers
{
    /// <summary>Which load-balancing loss an MoE layer adds to its auxiliary loss.</summary>
    public enum LoadBalancingLossKind
    {
        /// <summary>No load-balancing loss (for example with aux-loss-free balancing, or expert choice).</summary>
        None,

        /// <summary><see cref="SwitchLoadBalancingLoss"/> over the forward's tokens (1.0 when balanced).</summary>
        Switch,

        /// <summary><see cref="ImportanceLoadLoss"/>: CV²(importance) + CV²(load).</summary>
        ImportanceLoad,

        /// <summary>
        /// DeepSeek-V3's sequence-wise balance loss (<see cref="SequenceBalanceLoss"/>): the Switch form per sequence with
        /// affinities normalized per token, averaged over the sequences; an input [..., S, d] holds sequences of S tokens.
        /// </summary>
        SequenceWise,

        /// <summary>
        /// Global-batch balancing (Qiu et al. 2025, arXiv 2501.11873): the Switch form with the expert frequencies f
        /// counted over every micro-batch since the last <see cref="MoeLoadBalancing.AfterOptimizerStep"/>, so with
        /// gradient accumulation the loss sees the step's whole batch (<see cref="MoeAuxiliaryLoss.Collect"/> forms it).
        /// </summary>
        GlobalBatch,
    }
}
