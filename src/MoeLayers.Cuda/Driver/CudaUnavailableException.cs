using System;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The fused CUDA dispatch cannot run in this process; the message names what is missing (the driver library, a
    /// device, a new enough driver or GPU) and what to do about it.
    /// </summary>
    public sealed class CudaUnavailableException : InvalidOperationException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">What is missing and the remedy.</param>
        /// <param name="innerException">The underlying failure, if any.</param>
        public CudaUnavailableException(string message, Exception? innerException = null)
            : base(message, innerException)
        {
        }
    }
}
