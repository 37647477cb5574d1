using System;

namespace MoeLayers
{
    /// <summary>
    /// Thrown when TorchSharp's native library cannot be loaded in this process. The message names the cause
    /// found (missing backend package, a libstdc++ that is too old, ...) and the remedy.
    /// </summary>
    public sealed class TorchSharpNativeException : InvalidOperationException
    {
        /// <summary>Creates the exception with an explanatory message and the original failure.</summary>
        public TorchSharpNativeException(string message, Exception? innerException)
            : base(message, innerException)
        {
        }
    }
}
