using System.Diagnostics.Tracing;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;

namespace MoeLayers.Tests.Diagnostics
{
    /// <summary>The "MoeLayers" event source: its name, its events' shape, and that a user's listener receives them.</summary>
    public class MoeLayersEventSourceTests
    {
        [Fact]
        public void TheSourceIsNamedMoeLayersAndDeclaresItsWarnings()
        {
            MoeLayersEventSource.Log.Name.Should().Be("MoeLayers").And.Be(MoeLayersEventSource.SourceName);
            EventSource.GetSources().Should().Contain(MoeLayersEventSource.Log);
            var manifest = EventSource.GenerateManifest(typeof(MoeLayersEventSource), "MoeLayers.dll");
            manifest.Should().Contain("name=\"ExpertProductsFallback\"").And.Contain("name=\"LibraryCallFailed\"")
                .And.Contain("level=\"win:Warning\"");
        }

        [Fact]
        public void AListenerEnabledAtWarningReceivesTheEventsWithTheirPayloads()
        {
            using var events = new MoeLayersEventCapture();
            MoeLayersEventSource.Log.ExpertProductsFallback("test library 1b2c", "a test reason.");
            MoeLayersEventSource.Log.LibraryCallFailed("test library 1b2c", "System.InvalidOperationException", "a test failure.");

            var written = events.From("test library 1b2c");
            written.Select(e => e.Name).Should().Equal("ExpertProductsFallback", "LibraryCallFailed");
            written.Should().OnlyContain(e => e.Level == EventLevel.Warning);
            written[0]["reason"].Should().Be("a test reason.");
            written[1]["exceptionType"].Should().Be("System.InvalidOperationException");
            written[1]["exceptionMessage"].Should().Be("a test failure.");
        }
    }
}
