using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The file names a checkpoint folder may name: a plain name inside the folder, never a path that could leave it,
    /// on any operating system (the rule huggingface_hub applies to an index's shard names).
    /// </summary>
    internal static class PlainFileName
    {
        /// <summary>Null when <paramref name="name"/> is a plain file name, otherwise why it is not.</summary>
        public static string? Problem(string? name)
        {
            if (string.IsNullOrEmpty(name)) return "it is empty";
            if (name is "." or "..") return "it names a folder, not a file";
            if (name.IndexOfAny(new[] { '/', '\\' }) >= 0) return "it contains a path separator ('/' or '\\\\'); only a plain file name inside the folder is allowed";
            if (name.Contains(':')) return "it contains ':' (a drive or stream name on Windows)";
            if (name.Any(char.IsControl)) return "it contains a control character";
            if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) return "it contains a character that is invalid in file names";
            if (Path.IsPathRooted(name)) return "it is an absolute path";
            return null;
        }

        /// <summary>"no entries" or "3 entries: a.bin, b.txt, sub/" (at most 8 named, ordinal order; folders end with '/').</summary>
        public static string DescribeFolder(string folder)
        {
            var entries = Directory.GetFileSystemEntries(folder)
                .Select(e => Path.GetFileName(e) + (Directory.Exists(e) ? "/" : ""))
                .OrderBy(e => e, StringComparer.Ordinal)
                .ToArray();
            if (entries.Length == 0) return "no entries";
            IEnumerable<string> shown = entries.Take(8);
            var more = entries.Length > 8 ? $", ... ({entries.Length - 8} more)" : "";
            return $"{entries.Length} {(entries.Length == 1 ? "entry" : "entries")}: {string.Join(", ", shown)}{more}";
        }
    }
}
