using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The auxiliary losses of one layer's forward calls that <see cref="MoeAuxiliaryLoss.Collect"/> has not taken yet:
    /// each forward adds its own (a layer called twice adds two), Collect takes them all at once, and losses whose dispose
    /// scope has ended are dropped, so nothing stale is ever returned. Thread-safe.
    /// </summary>
    internal sealed class PendingAuxiliaryLosses
    {
        /// <summary>
        /// More uncollected losses than this means no one collects them: each holds its forward's autograd graph, so the
        /// layer refuses to keep growing rather than leak.
        /// </summary>
        internal const int Limit = 1024;

        private readonly object _gate = new();
        private readonly List<Tensor> _losses = new();
        private readonly string _layerName;

        public PendingAuxiliaryLosses(string layerName)
        {
            _layerName = layerName;
        }

        /// <summary>Adds the auxiliary loss of one forward.</summary>
        public void Add(Tensor loss)
        {
            lock (_gate)
            {
                _losses.RemoveAll(pending => pending.IsInvalid);
                if (_losses.Count >= Limit)
                    throw new InvalidOperationException(
                        $"MoE layer '{_layerName}' holds {Limit} auxiliary losses from training forwards that MoeAuxiliaryLoss.Collect never took, " +
                        "each keeping its autograd graph alive. Add MoeAuxiliaryLoss.Collect(model) to the loss once per step, run the step inside " +
                        "torch.NewDisposeScope(), use layer.Run(...) to handle the loss yourself, or set the loss coefficients to 0.");
                _losses.Add(loss);
            }
        }

        /// <summary>Removes and returns every pending loss that is still alive.</summary>
        public IReadOnlyList<Tensor> Take()
        {
            lock (_gate)
            {
                var alive = _losses.FindAll(pending => !pending.IsInvalid);
                _losses.Clear();
                return alive;
            }
        }
    }
}
