using System;
using System.IO;

namespace MoeLayers.Interop
{
    /// <summary>
    /// A safetensors file that cannot be read as one: truncated, a header that is not valid JSON, a dtype MoeLayers does
    /// not read, offsets outside the data section or inconsistent with the shape. The message names the file, the tensor
    /// key where there is one, and what was expected against what was found.
    /// </summary>
    public sealed class SafetensorsFormatException : IOException
    {
        /// <summary>Creates the exception; <paramref name="message"/> is the whole description.</summary>
        /// <param name="message">What is wrong, naming the file and key.</param>
        /// <param name="filePath">The file that failed to read.</param>
        /// <param name="key">The tensor key concerned, or null when the problem is not tied to one tensor.</param>
        /// <param name="innerException">The underlying failure (a JSON parse error, for instance), if any.</param>
        public SafetensorsFormatException(string message, string? filePath, string? key = null, Exception? innerException = null)
            : base(message, innerException)
        {
            FilePath = filePath;
            Key = key;
        }

        /// <summary>The file that failed to read.</summary>
        public string? FilePath { get; }

        /// <summary>The tensor key concerned, or null when the problem is not tied to one tensor.</summary>
        public string? Key { get; }

        internal static SafetensorsFormatException For(string path, string what, string? key = null, Exception? inner = null)
        {
            var where = key is null ? $"safetensors file '{path}'" : $"tensor '{key}' in safetensors file '{path}'";
            return new SafetensorsFormatException($"{where}: {what}", path, key, inner);
        }
    }
}
