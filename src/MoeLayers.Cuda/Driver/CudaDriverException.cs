using System;

namespace MoeLayers.Cuda
{
    /// <summary>A CUDA driver call failed; the message has the call, the driver's error name and its description.</summary>
    public sealed class CudaDriverException : InvalidOperationException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The failed call and the driver's explanation.</param>
        /// <param name="errorCode">The CUresult value.</param>
        public CudaDriverException(string message, int errorCode)
            : base(message)
        {
            ErrorCode = errorCode;
        }

        /// <summary>The driver's CUresult code.</summary>
        public int ErrorCode { get; }
    }
}
