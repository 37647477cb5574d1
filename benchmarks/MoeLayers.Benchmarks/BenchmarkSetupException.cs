using System;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Something a suite needs is missing on this machine (an interpreter, a package); the message says what to install.
    /// Quick mode prints it and exits with code 2 instead of skipping the suite.
    /// </summary>
    public sealed class BenchmarkSetupException : Exception
    {
        /// <summary>Creates the exception with the message to print.</summary>
        public BenchmarkSetupException(string message)
            : base(message)
        {
        }
    }
}
