using System;
using System.IO;
using System.Text;

namespace MoeLayers.Samples.Mnist.Output
{
    /// <summary>Writes files so that a reader never sees half of one: write a temporary file beside it, then rename.</summary>
    public static class AtomicFile
    {
        /// <summary>Writes <paramref name="text"/> as UTF-8 to <paramref name="path"/>, replacing any existing file.</summary>
        public static void WriteAllText(string path, string text) =>
            Write(path, temp => File.WriteAllText(temp, text, new UTF8Encoding(false)));

        /// <summary>Lets <paramref name="writeTo"/> fill a temporary file, then moves it to <paramref name="path"/>.</summary>
        /// <param name="path">The final file.</param>
        /// <param name="writeTo">Writes the content to the path it is given (same extension as the final file).</param>
        public static void Write(string path, Action<string> writeTo)
        {
            ArgumentNullException.ThrowIfNull(path);
            ArgumentNullException.ThrowIfNull(writeTo);
            var full = Path.GetFullPath(path);
            var folder = Path.GetDirectoryName(full)!;
            Directory.CreateDirectory(folder);
            // Keep the extension last: some writers pick the format from it.
            var temp = Path.Combine(folder, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.tmp{Path.GetExtension(full)}");
            try
            {
                writeTo(temp);
                File.Move(temp, full, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
    }
}
