using System;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// The MPI library could not be loaded or is not a supported MPI (Open MPI 4.x or 5.x, <c>libmpi.so.40</c>). The
    /// message says what was tried and what to install (<c>apt-get install openmpi-bin libopenmpi-dev</c>) or which
    /// environment variable points at another library (<see cref="MpiCommunicatorOptions.LibraryPathVariable"/>).
    /// </summary>
    public sealed class MpiNotAvailableException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">What was tried and the remedy.</param>
        /// <param name="innerException">The loader's failure, if any.</param>
        public MpiNotAvailableException(string message, Exception? innerException = null)
            : base(message, innerException)
        {
        }
    }
}
