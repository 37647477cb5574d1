using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Tracing;
using System.Linq;

namespace MoeLayers.Tests.Support
{
    /// <summary>One event of the "MoeLayers" event source, its payload as strings by name.</summary>
    internal sealed record CapturedEvent(int Id, string Name, EventLevel Level, IReadOnlyDictionary<string, string> Payload)
    {
        /// <summary>The payload value named <paramref name="name"/>, or null.</summary>
        public string? this[string name] => Payload.TryGetValue(name, out var value) ? value : null;
    }

    /// <summary>
    /// Captures what the library writes to its event source, enabled at Warning level as a user would. The source is
    /// process-wide, so tests pick their own events out (by a runner's unique name, or by the reason's text).
    /// </summary>
    internal sealed class MoeLayersEventCapture : EventListener
    {
        // Initialized before the base constructor, which already reports the existing sources.
        private readonly ConcurrentQueue<CapturedEvent> _events = new();

        /// <summary>Everything captured so far.</summary>
        public IReadOnlyList<CapturedEvent> Events => _events.ToArray();

        /// <summary>The events whose "library" payload is <paramref name="library"/>.</summary>
        /// <param name="library">A runner's name.</param>
        public IReadOnlyList<CapturedEvent> From(string library) => Events.Where(e => e["library"] == library).ToList();

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == MoeLayersEventSource.SourceName) EnableEvents(eventSource, EventLevel.Warning);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventSource.Name != MoeLayersEventSource.SourceName) return;
            var payload = new Dictionary<string, string>();
            for (var i = 0; i < (eventData.PayloadNames?.Count ?? 0); i++)
                payload[eventData.PayloadNames![i]] = eventData.Payload?[i]?.ToString() ?? "";
            _events.Enqueue(new CapturedEvent(eventData.EventId, eventData.EventName ?? "", eventData.Level, payload));
        }
    }
}
