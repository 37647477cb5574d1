using System;
using System.IO;
using System.Text;

namespace MoeLayers.Samples.TinyShakespeare.Storage
{
    /// <summary>
    /// Writes a file so readers see either the old content or the complete new content, never a half-written file:
    /// write a temporary file beside it, flush it to disk, then rename it over the target.
    /// </summary>
    public static class AtomicFile
    {
        /// <summary>Writes whatever <paramref name="write"/> puts in the stream to <paramref name="path"/>, atomically.</summary>
        /// <param name="path">The target file; its folder is created if missing.</param>
        /// <param name="write">Fills the stream.</param>
        public static void Write(string path, Action<Stream> write)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            ArgumentNullException.ThrowIfNull(write);
            var full = Path.GetFullPath(path);
            var folder = Path.GetDirectoryName(full)!;
            Directory.CreateDirectory(folder);
            var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            try
            {
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    write(stream);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temporary, full, overwrite: true);
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
        }

        /// <summary>Writes bytes to <paramref name="path"/>, atomically.</summary>
        public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

        /// <summary>Writes UTF-8 text (no byte-order mark) to <paramref name="path"/>, atomically.</summary>
        public static void WriteAllText(string path, string text) =>
            WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }
}
