using System;
using System.IO;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Storage;
using MoeLayers.Samples.TinyShakespeare.Training;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class ReportingTests : IDisposable
    {
        private readonly TempFolder _temp = new();

        public void Dispose() => _temp.Dispose();

        [Fact]
        public void Layer_routing_figures_match_hand_computed_values()
        {
            // 40 pairs over 4 experts (mean 10); the busiest got 16; 4 of the 40 were dropped.
            var routing = new LayerRouting(0, new long[] { 16, 12, 8, 4 }, new long[] { 12, 12, 8, 4 });

            routing.Assignments.Should().Be(40);
            routing.MaxMeanLoadRatio.Should().BeApproximately(1.6, 1e-12);
            routing.DroppedFraction.Should().BeApproximately(0.1, 1e-12);
            routing.Shares.Should().Equal(0.4, 0.3, 0.2, 0.1);
        }

        [Fact]
        public void Atomic_write_replaces_the_file_and_leaves_nothing_else()
        {
            var path = _temp.File("out.txt");
            AtomicFile.WriteAllText(path, "old");

            AtomicFile.WriteAllText(path, "new");

            File.ReadAllText(path).Should().Be("new");
            _temp.FileNames().Should().Equal("out.txt");
        }

        [Fact]
        public void A_failed_atomic_write_keeps_the_previous_content()
        {
            var path = _temp.File("out.txt");
            AtomicFile.WriteAllText(path, "old");

            var act = () => AtomicFile.Write(path, stream =>
            {
                stream.WriteByte(1);
                throw new IOException("disk full");
            });

            act.Should().Throw<IOException>().WithMessage("disk full");
            File.ReadAllText(path).Should().Be("old");
            _temp.FileNames().Should().Equal("out.txt");
        }
    }
}
