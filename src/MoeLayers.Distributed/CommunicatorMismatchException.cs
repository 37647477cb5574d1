using System;
using System.Collections.Generic;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// Ranks called a collective with arguments that do not agree (dtype, row shape, options, invalid counts). Thrown on
    /// every rank with the same message, naming each rank and what it passed; the communicator stays usable.
    /// </summary>
    public sealed class CommunicatorMismatchException : InvalidOperationException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="operation">The collective or check, e.g. <c>AllToAll</c>.</param>
        /// <param name="message">What differs, per rank.</param>
        /// <param name="differingRanks">Ranks outside the largest group of agreeing ranks (or that reported an error).</param>
        public CommunicatorMismatchException(string operation, string message, IReadOnlyList<int> differingRanks)
            : base(message)
        {
            Operation = operation;
            DifferingRanks = differingRanks;
        }

        /// <summary>The collective or check that found the mismatch.</summary>
        public string Operation { get; }

        /// <summary>Ranks outside the largest group of agreeing ranks (ties: the group holding the lowest rank is kept), or that reported an error.</summary>
        public IReadOnlyList<int> DifferingRanks { get; }
    }
}
