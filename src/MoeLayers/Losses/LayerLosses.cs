using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The loss part of an MoE layer, chosen once from its options: the load-balancing loss of the chosen kind and the
    /// router z-loss, read from one forward's routing and dispatch. Under expert parallelism each rank's losses are its
    /// share in the data-parallel convention — the Switch f from every rank's counts, P and the z-loss over this rank's
    /// tokens, scaled by W·T_rank/T_batch — so the mean over ranks is the one-process loss.
    /// </summary>
    /// <param name="options">The layer's options.</param>
    internal sealed class LayerLosses(MoeLayerOptions options)
    {
        private readonly LoadBalancingLossKind _kind = options.LoadBalancingLoss;
        private readonly double _balanceCoefficient = options.LoadBalancingCoefficient;
        private readonly double _zCoefficient = options.ZLossCoefficient;

        /// <summary>Whether any loss has a positive coefficient (else training forwards keep nothing for Collect).</summary>
        public bool Any => (_kind != LoadBalancingLossKind.None && _balanceCoefficient > 0) || _zCoefficient > 0;

        /// <summary>Whether the load-balancing loss is global-batch balancing, formed once the step's counts are in.</summary>
        public bool GlobalBatch => _kind == LoadBalancingLossKind.GlobalBatch;

        /// <summary>
        /// α·load balance + β·z-loss of one forward and each term before its coefficient, from its routing and dispatch
        /// (counts over the whole batch); <paramref name="sequences"/> is for the sequence-wise loss, and
        /// <paramref name="stepLoads"/> the pairs per expert of the step's earlier training forwards (global-batch
        /// balancing; null outside training).
        /// </summary>
        public MeasuredLosses Measure(RoutingResult routing, DispatchOutput dispatched, TokenMask? mask, long sequences, IReadOnlyList<long>? stepLoads)
        {
            var device = routing.Logits.device;
            var realTokens = mask?.RealCount ?? routing.TokenCount;
            if (routing.TokenCount == 0) return Zero(device);
            var mask32 = mask?.Values32;
            var part = GlobalBatch ? GlobalBatchBalance.Measure(routing, mask32, realTokens) : null;
            var loadBalancing = _kind switch
            {
                LoadBalancingLossKind.Switch => SwitchLoadBalancingLoss.FromCounts(routing.Probabilities, mask32, dispatched.AssignedPerExpert),
                LoadBalancingLossKind.ImportanceLoad => ImportanceLoadLoss.ComputeChecked(routing, mask32),
                LoadBalancingLossKind.SequenceWise => SequenceBalanceLoss.ComputeChecked(routing, sequences, mask32),
                LoadBalancingLossKind.GlobalBatch => GlobalBatchBalance.Loss(new[] { part! }, Sum(stepLoads, dispatched.AssignedPerExpert), device),
                _ => Scalar(0, device),
            };
            var zLoss = _zCoefficient > 0 ? RouterZLoss.ComputeChecked(routing, mask32) : Scalar(0, device);
            if (dispatched.Ranks > 1 || dispatched.BatchTokens != realTokens)
            {
                // This rank's share: its mean over its own tokens times W·T_rank/T_batch.
                var share = dispatched.BatchTokens == 0 ? 0.0 : (double)dispatched.Ranks * realTokens / dispatched.BatchTokens;
                (loadBalancing, zLoss) = (loadBalancing * share, zLoss * share);
            }
            return new MeasuredLosses(_balanceCoefficient * loadBalancing + _zCoefficient * zLoss, loadBalancing, zLoss, part);
        }

        /// <summary>Zero losses on <paramref name="device"/>, for forwards whose losses nothing uses.</summary>
        public static MeasuredLosses Zero(Device device) => new(Scalar(0, device), Scalar(0, device), Scalar(0, device), null);

        /// <summary>What Collect takes of a forward: its auxiliary loss, or for global-batch balancing β·z-loss and α (the balance term is formed at Collect).</summary>
        public (Tensor Fixed, double Coefficient) PendingTerms(MeasuredLosses losses) =>
            losses.GlobalBatch is null ? (losses.Auxiliary, 0) : (_zCoefficient * losses.ZLoss, _balanceCoefficient);

        private static long[] Sum(IReadOnlyList<long>? before, long[] now)
        {
            if (before is null) return now;
            var total = (long[])now.Clone();
            for (var e = 0; e < total.Length; e++) total[e] += before[e];
            return total;
        }

        private static Tensor Scalar(double value, Device device) => full(Array.Empty<long>(), value, ScalarType.Float32, device: device);
    }

    /// <summary>
    /// One forward's auxiliary losses: α·load balance + β·z-loss (float32 scalar with gradient), each term before its
    /// coefficient, and the forward's global-batch part (mean probabilities and tokens) when that loss is on.
    /// </summary>
    internal sealed record MeasuredLosses(Tensor Auxiliary, Tensor LoadBalancing, Tensor ZLoss, GlobalBatchBalance.Part? GlobalBatch);
}
