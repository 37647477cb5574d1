using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The auxiliary losses of one layer's forward calls that <see cref="MoeAuxiliaryLoss.Collect"/> has not taken yet:
    /// each forward adds its own (a layer called twice adds two), Collect takes them all at once, and losses whose dispose
    /// scope has ended are dropped, so nothing stale is ever returned. A global-batch balance term waits here as its
    /// micro-batch's mean probabilities until Collect forms it with the step's expert counts. Thread-safe.
    /// </summary>
    /// <param name="layerName">The layer named in messages.</param>
    internal sealed class PendingAuxiliaryLosses(string layerName)
    {
        /// <summary>
        /// More uncollected losses than this means no one collects them: each holds its forward's autograd graph, so the
        /// layer refuses to keep growing rather than leak.
        /// </summary>
        internal const int Limit = 1024;

        private readonly object _gate = new();
        private readonly List<Entry> _entries = new();
        private readonly string _layerName = layerName;

        /// <summary>Adds one forward: its fixed loss terms, and its global-batch part with coefficient α when that loss is on.</summary>
        public void Add(Tensor fixedTerms, GlobalBatchBalance.Part? globalBatch = null, double coefficient = 0)
        {
            lock (_gate)
            {
                _entries.RemoveAll(entry => !entry.IsAlive);
                if (_entries.Count >= Limit)
                    throw new InvalidOperationException(
                        $"MoE layer '{_layerName}' holds {Limit} auxiliary losses from training forwards that MoeAuxiliaryLoss.Collect never took, " +
                        "each keeping its autograd graph alive. Add MoeAuxiliaryLoss.Collect(model) to the loss once per step, run the step inside " +
                        "torch.NewDisposeScope(), use layer.Run(...) to handle the loss yourself, or set the loss coefficients to 0.");
                _entries.Add(new Entry(fixedTerms, globalBatch, coefficient));
            }
        }

        /// <summary>Removes every pending loss that is still alive and returns their sum, or null when there is none.</summary>
        /// <param name="stepCounts">Pairs per expert over the step so far, for the global-batch terms.</param>
        public Tensor? Take(Func<IReadOnlyList<long>> stepCounts)
        {
            List<Entry> alive;
            lock (_gate)
            {
                alive = _entries.FindAll(entry => entry.IsAlive);
                _entries.Clear();
            }
            if (alive.Count == 0) return null;
            Tensor? total = null;
            var parts = new List<GlobalBatchBalance.Part>();
            var coefficient = 0.0;
            foreach (var entry in alive)
            {
                total = total is null ? entry.Fixed : total + entry.Fixed;
                if (entry.GlobalBatch is { } part)
                {
                    parts.Add(part);
                    coefficient = entry.Coefficient;
                }
            }
            if (parts.Count > 0) total = total! + coefficient * GlobalBatchBalance.Loss(parts, stepCounts(), total!.device);
            return total;
        }

        private sealed record Entry(Tensor Fixed, GlobalBatchBalance.Part? GlobalBatch, double Coefficient)
        {
            public bool IsAlive => !Fixed.IsInvalid && GlobalBatch?.MeanProbabilities.IsInvalid != true;
        }
    }
}
