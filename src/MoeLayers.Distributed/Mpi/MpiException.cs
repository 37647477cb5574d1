using System;

namespace MoeLayers.Distributed
{
    /// <summary>An MPI call returned an error code (errors are returned, not fatal, on the communicators MoeLayers creates).</summary>
    public sealed class MpiException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="function">The MPI function, e.g. <c>MPI_Ialltoallv</c>.</param>
        /// <param name="errorCode">The code it returned.</param>
        /// <param name="message">The explanation, including MPI's own error string.</param>
        public MpiException(string function, int errorCode, string message)
            : base(message)
        {
            Function = function;
            ErrorCode = errorCode;
        }

        /// <summary>The MPI function that failed.</summary>
        public string Function { get; }

        /// <summary>The MPI error code it returned.</summary>
        public int ErrorCode { get; }
    }
}
