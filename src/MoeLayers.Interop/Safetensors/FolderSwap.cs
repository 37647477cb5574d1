using System;
using System.IO;

namespace MoeLayers.Interop
{
    /// <summary>Replaces a folder by a complete new one with renames, so that the target is at every moment either the old folder or the new one.</summary>
    internal static class FolderSwap
    {
        /// <summary>A hidden sibling of <paramref name="target"/> with a fresh name: ".name.&lt;guid&gt;.&lt;suffix&gt;".</summary>
        public static string Sibling(string target, string suffix)
            => Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.{suffix}");

        /// <summary>
        /// Moves <paramref name="replacement"/> to <paramref name="target"/>. An existing target is first renamed aside and
        /// deleted once the replacement is in place; if the replacement cannot be moved in, the old folder is moved back
        /// (and if even that fails, the exception says where it is). <paramref name="afterOldMovedAsideForTests"/> runs
        /// between the two renames (tests inject a failure there).
        /// </summary>
        public static void Replace(string replacement, string target, Action<string>? afterOldMovedAsideForTests)
        {
            if (!Directory.Exists(target))
            {
                Directory.Move(replacement, target);
                return;
            }

            var aside = Sibling(target, "old");
            Directory.Move(target, aside);
            try
            {
                afterOldMovedAsideForTests?.Invoke(aside);
                Directory.Move(replacement, target);
            }
            catch (Exception failure)
            {
                try
                {
                    Directory.Move(aside, target);
                }
                catch (Exception restore) when (restore is IOException or UnauthorizedAccessException)
                {
                    throw new IOException(
                        $"replacing folder '{target}' failed ({failure.Message}) and moving the previous folder back failed too ({restore.Message}); the previous folder is at '{aside}'.",
                        failure);
                }

                throw;
            }

            TryDeleteFolder(aside);
        }

        /// <summary>Deletes a folder and its contents, ignoring I/O failures (a leftover hidden folder is harmless).</summary>
        public static void TryDeleteFolder(string folder)
        {
            try
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
