using System.Diagnostics.Tracing;

namespace MoeLayers
{
    /// <summary>
    /// The library's <see cref="EventSource"/> ("MoeLayers"): what it chose differently from what was asked or expected,
    /// at Warning level, each distinct cause once per reporter; today the expert products that ran one per expert instead
    /// of as one library call (MKL's batched GEMM on the CPU, cuBLAS's grouped GEMM on CUDA), and the library calls that
    /// failed.
    /// </summary>
    /// <remarks>
    /// The library already reports its metrics through the <see cref="System.Diagnostics.Metrics.Meter"/> "MoeLayers"
    /// (<see cref="MoeMetrics"/>); an event source is the same kind of channel for messages: process-wide, built into
    /// .NET (no package dependency) and free when nobody listens, since nothing is formatted or kept unless a listener
    /// enabled it. Route the events with an <see cref="EventListener"/> that enables <see cref="SourceName"/>, with
    /// dotnet-trace or dotnet-monitor (provider "MoeLayers"), or into ILogger or OpenTelemetry through their event-source
    /// bridges; silence them by not listening. The library writes nothing to standard error for these.
    /// </remarks>
    [EventSource(Name = SourceName)]
    public sealed class MoeLayersEventSource : EventSource
    {
        /// <summary>The event source's name, which listeners and tools enable.</summary>
        public const string SourceName = "MoeLayers";

        /// <summary>Id of <see cref="ExpertProductsFallback"/>.</summary>
        internal const int ExpertProductsFallbackId = 1;

        /// <summary>Id of <see cref="LibraryCallFailed"/>.</summary>
        internal const int LibraryCallFailedId = 2;

        private MoeLayersEventSource()
        {
        }

        /// <summary>The one instance (an event source's name may be registered once per process).</summary>
        internal static MoeLayersEventSource Log { get; } = new();

        /// <summary>Expert products run one per expert instead of as one library call, and why.</summary>
        /// <param name="library">The library call not taken, e.g. "MKL batched GEMM".</param>
        /// <param name="reason">Why, in words.</param>
        [Event(ExpertProductsFallbackId, Level = EventLevel.Warning,
            Message = "Expert products run one per expert instead of as one {0} call: {1}")]
        internal void ExpertProductsFallback(string library, string reason) => WriteEvent(ExpertProductsFallbackId, library, reason);

        /// <summary>
        /// A library call for expert products failed; that call's products were run per expert instead, and the next
        /// call tries the library again.
        /// </summary>
        /// <param name="library">The library whose call failed, e.g. "cuBLAS grouped GEMM".</param>
        /// <param name="exceptionType">The full name of the exception's type.</param>
        /// <param name="exceptionMessage">The exception's message.</param>
        [Event(LibraryCallFailedId, Level = EventLevel.Warning,
            Message = "A {0} call failed ({1}: {2}); its products ran one per expert, and the next call tries the library again.")]
        internal void LibraryCallFailed(string library, string exceptionType, string exceptionMessage) =>
            WriteEvent(LibraryCallFailedId, library, exceptionType, exceptionMessage);
    }
}
