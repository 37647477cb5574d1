using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>
    /// Sums the routing statistics of every MoE layer over training steps, per layer, and averages each step's own load
    /// figures (max/mean load, coefficient of variation), which a sum over many steps would smooth away.
    /// </summary>
    public sealed class RoutingTally
    {
        private readonly long[][] _assigned;
        private readonly long[][] _processed;
        private readonly double[] _stepMaxMean;
        private readonly double[] _stepVariation;
        private int _steps;

        /// <summary>Creates an empty tally for <paramref name="layers"/> layers of <paramref name="experts"/> experts.</summary>
        public RoutingTally(int layers, int experts)
        {
            _assigned = Enumerable.Range(0, layers).Select(_ => new long[experts]).ToArray();
            _processed = Enumerable.Range(0, layers).Select(_ => new long[experts]).ToArray();
            _stepMaxMean = new double[layers];
            _stepVariation = new double[layers];
        }

        /// <summary>Adds the statistics of the last forward of each layer (one training step).</summary>
        /// <exception cref="ArgumentException">The layer count differs, or a layer collected no statistics.</exception>
        public void Add(IReadOnlyList<MoeLayer> layers)
        {
            ArgumentNullException.ThrowIfNull(layers);
            Add(layers.Select((layer, l) => layer.Statistics
                ?? throw new ArgumentException($"layer {l} has no routing statistics (run a forward with CollectStatistics on).", nameof(layers))).ToArray());
        }

        /// <summary>Adds one step's statistics, one entry per layer.</summary>
        /// <exception cref="ArgumentException">The layer count or an expert count differs.</exception>
        public void Add(IReadOnlyList<RoutingStatistics> step)
        {
            ArgumentNullException.ThrowIfNull(step);
            if (step.Count != _assigned.Length)
                throw new ArgumentException($"expected {_assigned.Length} layers; got {step.Count}.", nameof(step));
            for (var l = 0; l < step.Count; l++)
            {
                var statistics = step[l];
                if (statistics.AssignedPerExpert.Count != _assigned[l].Length)
                    throw new ArgumentException($"layer {l} has {statistics.AssignedPerExpert.Count} experts; expected {_assigned[l].Length}.", nameof(step));
                for (var e = 0; e < _assigned[l].Length; e++)
                {
                    _assigned[l][e] += statistics.AssignedPerExpert[e];
                    _processed[l][e] += statistics.KeptPerExpert[e];
                }
                _stepMaxMean[l] += statistics.MaxMeanLoadRatio;
                _stepVariation[l] += statistics.LoadCoefficientOfVariation;
            }
            _steps++;
        }

        /// <summary>The sums so far, one entry per layer.</summary>
        public IReadOnlyList<LayerRouting> Snapshot() =>
            _assigned.Select((a, l) => new LayerRouting(l, (long[])a.Clone(), (long[])_processed[l].Clone())
            {
                Steps = _steps,
                MeanStepMaxMeanLoadRatio = _steps == 0 ? 0 : _stepMaxMean[l] / _steps,
                MeanStepLoadCoefficientOfVariation = _steps == 0 ? 0 : _stepVariation[l] / _steps,
            }).ToArray();

        /// <summary>Starts a new stretch.</summary>
        public void Reset()
        {
            foreach (var row in _assigned) Array.Clear(row);
            foreach (var row in _processed) Array.Clear(row);
            Array.Clear(_stepMaxMean);
            Array.Clear(_stepVariation);
            _steps = 0;
        }
    }
}
