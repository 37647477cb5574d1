using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading;

namespace MoeLayers
{
    /// <summary>
    /// The library's <see cref="Meter"/> ("MoeLayers"), readable with dotnet-counters or OpenTelemetry: per-expert
    /// assignments and drops of every forward that collects statistics, the busiest expert's load ratio, and each
    /// aux-loss-free bias after its update, each tagged with the layer's <see cref="MoeLayer.MetricsName"/> (<see cref="MoeLayer.NameMetricsByPath"/> sets a model's
    /// layers to their paths). Measurements are
    /// recorded only while a listener is enabled.
    /// </summary>
    public static class MoeMetrics
    {
        /// <summary>The meter's name.</summary>
        public const string MeterName = "MoeLayers";

        private static readonly Meter Meter = new(MeterName, typeof(MoeMetrics).Assembly.GetName().Version?.ToString());
        private static readonly Counter<long> Assigned = Meter.CreateCounter<long>("moelayers.expert.assigned", "{pair}", "(token, slot) pairs routed to an expert");
        private static readonly Counter<long> Dropped = Meter.CreateCounter<long>("moelayers.expert.dropped", "{pair}", "pairs an expert dropped at capacity");
        private static readonly Histogram<double> LoadRatio = Meter.CreateHistogram<double>("moelayers.layer.max_mean_load", null, "busiest expert's load over the mean load, per forward");
        private static readonly Histogram<double> Bias = Meter.CreateHistogram<double>("moelayers.expert.balance_bias", null, "aux-loss-free balance bias after its update");

        private static long _layers;

        /// <summary>A layer's default tag: its module name and a number unique in the process ("moe#2").</summary>
        internal static string DefaultName(string moduleName) => $"{moduleName}#{Interlocked.Increment(ref _layers)}";

        internal static void Record(string layer, RoutingStatistics statistics)
        {
            if (Assigned.Enabled || Dropped.Enabled)
            {
                for (var e = 0; e < statistics.AssignedPerExpert.Count; e++)
                {
                    var tags = new TagList { { "layer", layer }, { "expert", e } };
                    Assigned.Add(statistics.AssignedPerExpert[e], tags);
                    Dropped.Add(statistics.AssignedPerExpert[e] - statistics.KeptPerExpert[e], tags);
                }
            }
            if (LoadRatio.Enabled) LoadRatio.Record(statistics.MaxMeanLoadRatio, new KeyValuePair<string, object?>("layer", layer));
        }

        internal static void RecordBias(string layer, IReadOnlyList<float> bias)
        {
            if (!Bias.Enabled) return;
            for (var e = 0; e < bias.Count; e++) Bias.Record(bias[e], new TagList { { "layer", layer }, { "expert", e } });
        }
    }
}
