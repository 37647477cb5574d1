using System;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// A collective did not complete within the communicator's timeout: at least one rank never joined it (it exited,
    /// crashed, or is stuck elsewhere). The communicator is unusable afterwards (MPI cannot cancel a collective);
    /// disposing it ends the whole job with MPI_Abort rather than waiting forever in MPI_Finalize.
    /// </summary>
    public sealed class CommunicatorTimeoutException : TimeoutException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="operation">The collective that timed out.</param>
        /// <param name="rank">The rank that waited.</param>
        /// <param name="worldSize">The number of ranks.</param>
        /// <param name="timeout">How long it waited.</param>
        /// <param name="message">The full explanation.</param>
        public CommunicatorTimeoutException(string operation, int rank, int worldSize, TimeSpan timeout, string message)
            : base(message)
        {
            Operation = operation;
            Rank = rank;
            WorldSize = worldSize;
            Timeout = timeout;
        }

        /// <summary>The collective that timed out.</summary>
        public string Operation { get; }

        /// <summary>The rank that waited and threw.</summary>
        public int Rank { get; }

        /// <summary>The number of ranks.</summary>
        public int WorldSize { get; }

        /// <summary>How long the rank waited.</summary>
        public TimeSpan Timeout { get; }
    }
}
