using System;
using System.IO;
using System.Linq;
using MoeLayers.Interop;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// How the fine-tuning outputs reach the disk: a file, or a folder as a whole, is either the old one or the complete
    /// new one, never half-written (write beside, flush, then rename).
    /// </summary>
    internal static class AtomicWrites
    {
        /// <summary>
        /// Writes <paramref name="folder"/> as a whole: <paramref name="fill"/> writes into a hidden sibling folder, which
        /// then takes the folder's place (Interop's <c>FolderSwap</c>); on failure the old folder stays and the sibling is
        /// deleted. An existing folder is replaced only when it is empty or holds <paramref name="markerFile"/> (it is one
        /// of ours), so a mistyped path never wipes someone's folder.
        /// </summary>
        /// <param name="folder">The folder; its parent must exist.</param>
        /// <param name="markerFile">The file every such folder holds (adapter_config.json, trainer_state.json).</param>
        /// <param name="kind">What the folder is, for messages ("adapter folder").</param>
        /// <param name="fill">Writes the folder's files into the path it is given (with <see cref="NewFile"/>).</param>
        public static void ReplaceFolder(string folder, string markerFile, string kind, Action<string> fill)
        {
            ArgumentException.ThrowIfNullOrEmpty(folder);
            var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
            var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{target}' is a root folder; name a folder inside one.", nameof(folder));
            if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"cannot write {kind} '{target}': its parent '{parent}' does not exist.");
            if (File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !File.Exists(Path.Combine(target, markerFile))))
                throw new IOException($"cannot write {kind} '{target}': it exists and is not {Article(kind)} {kind} (no {markerFile}); the whole folder would be replaced.");
            var temporary = FolderSwap.Sibling(target, "tmp");
            Directory.CreateDirectory(temporary);
            try
            {
                fill(temporary);
                FolderSwap.Replace(temporary, target, afterOldMovedAsideForTests: null);
            }
            catch
            {
                FolderSwap.TryDeleteFolder(temporary);
                throw;
            }
        }

        private static string Article(string noun) => "aeiou".Contains(char.ToLowerInvariant(noun[0])) ? "an" : "a";

        /// <summary>Creates <paramref name="path"/> (which must not exist), lets <paramref name="write"/> fill it, and flushes it to disk.</summary>
        public static void NewFile(string path, Action<Stream> write)
        {
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            write(stream);
            stream.Flush(flushToDisk: true);
        }

        /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>: a flushed temporary file beside it, renamed over it.</summary>
        public static void ReplaceFile(string path, byte[] bytes)
        {
            var full = Path.GetFullPath(path);
            var temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            try
            {
                NewFile(temporary, stream => stream.Write(bytes));
                File.Move(temporary, full, overwrite: true);
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
        }
    }
}
