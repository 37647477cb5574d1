using System;
using System.Collections.Generic;
using System.IO;

namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>Every mirror failed to deliver an MNIST file with the expected checksum.</summary>
    public sealed class MnistDownloadException : IOException
    {
        /// <summary>Creates the exception for <paramref name="file"/>.</summary>
        /// <param name="file">The file that could not be downloaded.</param>
        /// <param name="failures">One line per mirror tried: its URL and what went wrong.</param>
        public MnistDownloadException(MnistFile file, IReadOnlyList<string> failures)
            : base(BuildMessage(file, failures))
        {
            File = file;
            Failures = failures;
        }

        /// <summary>The file that could not be downloaded.</summary>
        public MnistFile File { get; }

        /// <summary>One line per mirror tried: its URL and what went wrong.</summary>
        public IReadOnlyList<string> Failures { get; }

        private static string BuildMessage(MnistFile file, IReadOnlyList<string> failures)
        {
            ArgumentNullException.ThrowIfNull(file);
            ArgumentNullException.ThrowIfNull(failures);
            var indent = Environment.NewLine + "  ";
            return $"Could not download {file.FileName} from any of {failures.Count} mirrors:{indent}" +
                   string.Join(indent, failures);
        }
    }
}
