using System;
using System.Globalization;

namespace MoeLayers.Distributed
{
    /// <summary>How <see cref="MpiCommunicator"/> finds Open MPI and how long its collectives may wait.</summary>
    public sealed class MpiCommunicatorOptions
    {
        /// <summary>Environment variable with the path of the libmpi to load (instead of searching for libmpi.so.40).</summary>
        public const string LibraryPathVariable = OpenMpiLibrary.LibraryPathVariable;

        /// <summary>Environment variable with the collective timeout in seconds, used when <see cref="Timeout"/> is not set.</summary>
        public const string TimeoutVariable = "MOELAYERS_MPI_TIMEOUT_SECONDS";

        /// <summary>The timeout when neither <see cref="Timeout"/> nor <see cref="TimeoutVariable"/> is set: 10 minutes.</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

        /// <summary>The libmpi to load; null: <see cref="LibraryPathVariable"/>, else libmpi.so.40 in the usual places.</summary>
        public string? LibraryPath { get; set; }

        /// <summary>
        /// The longest any one collective (including the construction handshake) may take on this rank, waiting for slower
        /// ranks included, before it throws <see cref="CommunicatorTimeoutException"/>. Null: <see cref="TimeoutVariable"/>,
        /// else <see cref="DefaultTimeout"/>. Set it above the longest legitimate imbalance between ranks (evaluation or
        /// checkpointing on one rank while the others wait).
        /// </summary>
        public TimeSpan? Timeout { get; set; }

        /// <summary>
        /// The longest construction waits for every rank to arrive (ranks start at different times, notably on a loaded
        /// machine or across nodes). Null: <see cref="Timeout"/>. Past it, the handshake (the MPI_COMM_WORLD duplicate)
        /// throws <see cref="CommunicatorTimeoutException"/>; MPI_Init itself, which Open MPI makes wait for every rank,
        /// cannot be abandoned, so a watchdog writes why to standard error and ends the process
        /// (<see cref="Environment.FailFast(string)"/>), and mpirun then ends the job.
        /// </summary>
        public TimeSpan? ConnectTimeout { get; set; }

        /// <summary>
        /// Whether disposing a communicator that timed out or saw an MPI error ends the whole job with MPI_Abort (default
        /// true). MPI cannot cancel a collective, so such a communicator can neither be used nor finalized (MPI_Finalize
        /// would wait for the unfinished collective forever); false skips MPI_Finalize and returns, leaving the process to
        /// exit, which mpirun reports as an improper exit and then ends the job.
        /// </summary>
        public bool AbortOnFaultedDispose { get; set; } = true;

        /// <summary>The timeout in effect: <see cref="Timeout"/>, else the environment variable, else the default.</summary>
        public TimeSpan ResolveTimeout() => ResolveTimeout(Environment.GetEnvironmentVariable(TimeoutVariable));

        /// <summary>The timeout in effect, given the value of <see cref="TimeoutVariable"/>.</summary>
        internal TimeSpan ResolveTimeout(string? variable)
        {
            if (Timeout is { } explicitTimeout)
            {
                if (explicitTimeout <= TimeSpan.Zero)
                    throw new ArgumentOutOfRangeException(nameof(Timeout), explicitTimeout, "MpiCommunicatorOptions.Timeout must be positive.");
                return explicitTimeout;
            }
            var text = variable;
            if (string.IsNullOrWhiteSpace(text)) return DefaultTimeout;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || double.IsInfinity(seconds))
                throw new ArgumentException($"{TimeoutVariable} must be a positive number of seconds; got '{text}'.");
            return TimeSpan.FromSeconds(seconds);
        }
    }
}
