using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Diagnostics
{
    /// <summary>Group choices, accumulation over forwards, and the Meter that dotnet-counters and OpenTelemetry read.</summary>
    public class ModernStatisticsTests
    {
        [Fact]
        public void GroupChoicesAndLoadSpreadAreDerivedFromTheCounts()
        {
            var stats = new RoutingStatistics(new long[] { 4, 0, 2, 2 }, new long[] { 4, 0, 2, 2 }, null, 0, 0, 0, new[] { 0.1f, -0.1f, 0, 0 }, 2);
            stats.AssignedPerGroup.Should().Equal(4, 4);
            stats.BalanceBias.Should().Equal(0.1f, -0.1f, 0f, 0f);
            stats.LoadCoefficientOfVariation.Should().BeApproximately(System.Math.Sqrt(2) / 2, 1e-12); // mean 2, std √2
        }

        [Fact]
        public void SumAccumulatesAcrossForwards()
        {
            var a = new RoutingStatistics(new long[] { 3, 1 }, new long[] { 2, 1 }, 2, 0.5, 1.0, 0.1);
            var b = new RoutingStatistics(new long[] { 1, 3 }, new long[] { 1, 2 }, 2, 0.7, 2.0, 0.3);
            var total = RoutingStatistics.Sum(new[] { a, b });
            total.AssignedPerExpert.Should().Equal(4, 4);
            total.KeptPerExpert.Should().Equal(3, 3);
            total.DroppedAssignments.Should().Be(2);
            total.RouterEntropy.Should().BeApproximately(0.6, 1e-12);
            total.Capacity.Should().Be(2);
        }

        [Fact]
        public void TheMeterPublishesPerExpertAssignments()
        {
            var measured = new Dictionary<int, long>();
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MoeMetrics.MeterName && instrument.Name == "moelayers.expert.assigned") l.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                var layer = tags.ToArray().First(t => t.Key == "layer").Value as string;
                if (layer != "metered") return;
                var expert = (int)tags.ToArray().First(t => t.Key == "expert").Value!;
                lock (measured) measured[expert] = measured.GetValueOrDefault(expert) + value;
            });
            listener.Start();
            var layer = new MoeLayer(new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 3, TopK = 2 }, "metered") { MetricsName = "metered" };
            layer.call(randn(10, 4));
            lock (measured)
            {
                measured.Keys.Should().BeEquivalentTo(new[] { 0, 1, 2 });
                measured.Values.Sum().Should().Be(20);
                measured.OrderBy(kv => kv.Key).Select(kv => kv.Value).Should().Equal(layer.Statistics!.AssignedPerExpert);
            }
        }
    }
}
