using System;
using System.Globalization;
using System.Threading;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// Running totals of one communicator's collectives on this rank: calls, payload bytes and wall time spent inside
    /// them (including waiting for slower ranks). Thread-safe; <see cref="Reset"/> starts a new measurement.
    /// </summary>
    public sealed class CommunicationStatistics
    {
        private long _allToAllCalls;
        private long _allToAllBytesSent;
        private long _allToAllBytesReceived;
        private long _allToAllTicks;
        private long _allReduceCalls;
        private long _allReduceBytes;
        private long _allReduceTicks;
        private long _otherCalls;
        private long _otherTicks;

        /// <summary>Number of <see cref="ICommunicator.AllToAll"/> calls.</summary>
        public long AllToAllCalls => Interlocked.Read(ref _allToAllCalls);

        /// <summary>Row bytes this rank sent in all-to-alls, including the rows it kept for itself.</summary>
        public long AllToAllBytesSent => Interlocked.Read(ref _allToAllBytesSent);

        /// <summary>Row bytes this rank received in all-to-alls, including the rows it kept for itself.</summary>
        public long AllToAllBytesReceived => Interlocked.Read(ref _allToAllBytesReceived);

        /// <summary>Wall time inside all-to-alls (count exchange, row exchange and copies).</summary>
        public TimeSpan AllToAllTime => TimeSpan.FromTicks(Interlocked.Read(ref _allToAllTicks));

        /// <summary>Number of all-reduce calls (<see cref="ICommunicator.AllReduce"/> and <see cref="ICommunicator.AllReduceInPlace"/>).</summary>
        public long AllReduceCalls => Interlocked.Read(ref _allReduceCalls);

        /// <summary>Payload bytes this rank contributed to all-reduces.</summary>
        public long AllReduceBytes => Interlocked.Read(ref _allReduceBytes);

        /// <summary>Wall time inside all-reduces.</summary>
        public TimeSpan AllReduceTime => TimeSpan.FromTicks(Interlocked.Read(ref _allReduceTicks));

        /// <summary>Number of barriers and all-gathers.</summary>
        public long OtherCalls => Interlocked.Read(ref _otherCalls);

        /// <summary>Wall time inside barriers and all-gathers.</summary>
        public TimeSpan OtherTime => TimeSpan.FromTicks(Interlocked.Read(ref _otherTicks));

        /// <summary>Sets every total to zero.</summary>
        public void Reset()
        {
            Interlocked.Exchange(ref _allToAllCalls, 0);
            Interlocked.Exchange(ref _allToAllBytesSent, 0);
            Interlocked.Exchange(ref _allToAllBytesReceived, 0);
            Interlocked.Exchange(ref _allToAllTicks, 0);
            Interlocked.Exchange(ref _allReduceCalls, 0);
            Interlocked.Exchange(ref _allReduceBytes, 0);
            Interlocked.Exchange(ref _allReduceTicks, 0);
            Interlocked.Exchange(ref _otherCalls, 0);
            Interlocked.Exchange(ref _otherTicks, 0);
        }

        /// <summary>One line: calls, bytes and milliseconds per kind of collective.</summary>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture,
            "all-to-all: {0} calls, {1:F1} MiB sent, {2:F1} MiB received, {3:F1} ms; all-reduce: {4} calls, {5:F1} MiB, {6:F1} ms; other: {7} calls, {8:F1} ms",
            AllToAllCalls, AllToAllBytesSent / 1048576.0, AllToAllBytesReceived / 1048576.0, AllToAllTime.TotalMilliseconds,
            AllReduceCalls, AllReduceBytes / 1048576.0, AllReduceTime.TotalMilliseconds, OtherCalls, OtherTime.TotalMilliseconds);

        internal void AddAllToAll(long bytesSent, long bytesReceived, TimeSpan elapsed)
        {
            Interlocked.Increment(ref _allToAllCalls);
            Interlocked.Add(ref _allToAllBytesSent, bytesSent);
            Interlocked.Add(ref _allToAllBytesReceived, bytesReceived);
            Interlocked.Add(ref _allToAllTicks, elapsed.Ticks);
        }

        internal void AddAllReduce(long bytes, TimeSpan elapsed)
        {
            Interlocked.Increment(ref _allReduceCalls);
            Interlocked.Add(ref _allReduceBytes, bytes);
            Interlocked.Add(ref _allReduceTicks, elapsed.Ticks);
        }

        internal void AddOther(TimeSpan elapsed)
        {
            Interlocked.Increment(ref _otherCalls);
            Interlocked.Add(ref _otherTicks, elapsed.Ticks);
        }
    }
}
