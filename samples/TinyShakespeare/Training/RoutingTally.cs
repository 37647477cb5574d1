using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>Sums the routing statistics of every MoE layer over training steps, per layer.</summary>
    public sealed class RoutingTally
    {
        private readonly long[][] _assigned;
        private readonly long[][] _processed;

        /// <summary>Creates an empty tally for <paramref name="layers"/> layers of <paramref name="experts"/> experts.</summary>
        public RoutingTally(int layers, int experts)
        {
            _assigned = Enumerable.Range(0, layers).Select(_ => new long[experts]).ToArray();
            _processed = Enumerable.Range(0, layers).Select(_ => new long[experts]).ToArray();
        }

        /// <summary>Adds the statistics of the last forward of each layer.</summary>
        /// <exception cref="ArgumentException">The layer count differs, or a layer collected no statistics.</exception>
        public void Add(IReadOnlyList<MoeLayerBase> layers)
        {
            if (layers.Count != _assigned.Length)
                throw new ArgumentException($"expected {_assigned.Length} layers; got {layers.Count}.", nameof(layers));
            for (var l = 0; l < layers.Count; l++)
            {
                var statistics = layers[l].Statistics
                    ?? throw new ArgumentException($"layer {l} has no routing statistics (run a forward with CollectStatistics on).", nameof(layers));
                for (var e = 0; e < _assigned[l].Length; e++)
                {
                    _assigned[l][e] += statistics.AssignedPerExpert[e];
                    _processed[l][e] += statistics.KeptPerExpert[e];
                }
            }
        }

        /// <summary>The sums so far, one entry per layer.</summary>
        public IReadOnlyList<LayerRouting> Snapshot() =>
            _assigned.Select((a, l) => new LayerRouting(l, (long[])a.Clone(), (long[])_processed[l].Clone())).ToArray();

        /// <summary>Starts a new stretch.</summary>
        public void Reset()
        {
            foreach (var row in _assigned) Array.Clear(row);
            foreach (var row in _processed) Array.Clear(row);
        }
    }
}
