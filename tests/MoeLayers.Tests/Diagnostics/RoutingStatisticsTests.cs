using System;
using FluentAssertions;

namespace MoeLayers.Tests.Diagnostics
{
    public class RoutingStatisticsTests
    {
        [Fact]
        public void DerivesFiguresFromCounts()
        {
            var stats = new RoutingStatistics(new long[] { 6, 2, 0, 0 }, new long[] { 4, 2, 0, 0 }, 4, Math.Log(2), 1.5, 0.1);
            stats.Assignments.Should().Be(8);
            stats.DroppedAssignments.Should().Be(2);
            stats.DroppedFraction.Should().Be(0.25);
            stats.UnusedExperts.Should().Be(2);
            stats.MaxMeanLoadRatio.Should().Be(3.0);
        }
    }
}
