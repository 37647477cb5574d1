// Shared by the MSBuild task in build/MoeLayers.NativeFix.targets (compiled by RoslynCodeTaskFactory)
// and by the MoeLayers library (compiled with MOELAYERS_LIBRARY defined, for load diagnostics).
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and records a
// version need on GLIBCXX_3.4.32. The only symbol bound to that version is _ZSt21ios_base_library_initv,
// a marker with no relocation, so marking the need weak (VER_FLG_WEAK) lets the loader accept an older
// libstdc++ (Debian 12 ships 3.4.30) without changing any code path.
#nullable enable
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

#if MOELAYERS_LIBRARY
namespace MoeLayers
#else
namespace MoeLayers.Build
#endif
{
    /// <summary>Outcome of <see cref="GlibcxxWeakVersionPatch.Apply"/>.</summary>
    internal enum GlibcxxPatchOutcome
    {
        /// <summary>The file does not record a need on the version (nothing to do).</summary>
        NotNeeded,
        /// <summary>The need was already weak.</summary>
        AlreadyWeak,
        /// <summary>The need was marked weak.</summary>
        Patched,
    }

    /// <summary>Reads and edits the version-need table (.gnu.version_r) of a 64-bit little-endian ELF file.</summary>
    internal static class GlibcxxWeakVersionPatch
    {
        /// <summary>The libstdc++ version that TorchSharp 0.107.0 asks for and Debian 12 lacks.</summary>
        public const string Version = "GLIBCXX_3.4.32";

        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlgWeak = 0x2;

        /// <summary>Well-known locations of the system libstdc++ on Linux distributions.</summary>
        public static readonly string[] SystemLibStdCxxCandidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
        };

        /// <summary>Returns the first system libstdc++ found, or null.</summary>
        public static string? FindSystemLibStdCxx()
        {
            foreach (var candidate in SystemLibStdCxxCandidates)
            {
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        /// <summary>True when the library file defines the given version string (e.g. GLIBCXX_3.4.32).</summary>
        public static bool LibraryDefinesVersion(string libraryPath, string version)
        {
            var bytes = File.ReadAllBytes(libraryPath);
            var needle = Encoding.ASCII.GetBytes(version + "\0");
            return IndexOf(bytes, needle) >= 0;
        }

        /// <summary>
        /// True when this machine needs the patch: Linux, and the system libstdc++ does not define <see cref="Version"/>.
        /// </summary>
        public static bool IsNeededOnThisMachine(out string reason)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                reason = "not Linux";
                return false;
            }
            var libstdcxx = FindSystemLibStdCxx();
            if (libstdcxx == null)
            {
                reason = "no system libstdc++.so.6 found in the usual places";
                return true;
            }
            if (LibraryDefinesVersion(libstdcxx, Version))
            {
                reason = libstdcxx + " provides " + Version;
                return false;
            }
            reason = libstdcxx + " lacks " + Version;
            return true;
        }

        /// <summary>Reports whether <paramref name="elfPath"/> has a non-weak need on <paramref name="version"/>.</summary>
        public static bool HasStrictNeed(string elfPath, string version)
        {
            var bytes = File.ReadAllBytes(elfPath);
            return FindVernaux(bytes, version, out var flagsOffset) && (ReadU16(bytes, flagsOffset) & VerFlgWeak) == 0;
        }

        /// <summary>
        /// Marks the need on <paramref name="version"/> weak. Idempotent; writes a temporary file and renames it,
        /// so the library is never left half-written.
        /// </summary>
        public static GlibcxxPatchOutcome Apply(string elfPath, string version = Version)
        {
            var bytes = File.ReadAllBytes(elfPath);
            if (!FindVernaux(bytes, version, out var flagsOffset)) return GlibcxxPatchOutcome.NotNeeded;
            var flags = ReadU16(bytes, flagsOffset);
            if ((flags & VerFlgWeak) != 0) return GlibcxxPatchOutcome.AlreadyWeak;

            flags |= VerFlgWeak;

            // Copy (keeps the file mode), edit the copy, then swap it in with one rename.
            var temp = elfPath + ".moelayers-" + Guid.NewGuid().ToString("N") + ".tmp";
            try
            {
                File.Copy(elfPath, temp);
                using (var stream = new FileStream(temp, FileMode.Open, FileAccess.Write))
                {
                    stream.Position = flagsOffset;
                    stream.WriteByte((byte)(flags & 0xff));
                    stream.WriteByte((byte)(flags >> 8));
                }
                File.Replace(temp, elfPath, null);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            return GlibcxxPatchOutcome.Patched;
        }

        private static bool FindVernaux(byte[] elf, string version, out int flagsOffset)
        {
            flagsOffset = -1;
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("Not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");

            var shoff = (long)ReadU64(elf, 0x28);
            int shentsize = ReadU16(elf, 0x3A);
            int shnum = ReadU16(elf, 0x3C);
            if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > elf.Length)
                throw new InvalidDataException("Section header table lies outside the file.");

            for (var i = 0; i < shnum; i++)
            {
                var sh = (int)(shoff + (long)i * shentsize);
                if (ReadU32(elf, sh + 4) != ShtGnuVerneed) continue;

                var offset = (int)ReadU64(elf, sh + 0x18);
                var link = (int)ReadU32(elf, sh + 0x28);
                var count = (int)ReadU32(elf, sh + 0x2C);
                var strSh = (int)(shoff + (long)link * shentsize);
                var strOffset = (int)ReadU64(elf, strSh + 0x18);

                var vn = offset;
                for (var n = 0; n < count; n++)
                {
                    int auxCount = ReadU16(elf, vn + 2);
                    var aux = vn + (int)ReadU32(elf, vn + 8);
                    for (var a = 0; a < auxCount; a++)
                    {
                        var name = ReadCString(elf, strOffset + (int)ReadU32(elf, aux + 8));
                        if (name == version)
                        {
                            flagsOffset = aux + 4;
                            return true;
                        }
                        var nextAux = (int)ReadU32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    var next = (int)ReadU32(elf, vn + 12);
                    if (next == 0) break;
                    vn += next;
                }
            }
            return false;
        }

        private static ushort ReadU16(byte[] b, int o) => (ushort)(b[o] | (b[o + 1] << 8));

        private static uint ReadU32(byte[] b, int o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));

        private static ulong ReadU64(byte[] b, int o) => ReadU32(b, o) | ((ulong)ReadU32(b, o + 4) << 32);

        private static string ReadCString(byte[] b, int o)
        {
            var end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, o, end - o);
        }

        private static int IndexOf(byte[] haystack, byte[] needle)
        {
            var first = needle[0];
            for (var i = Array.IndexOf(haystack, first); i >= 0 && i <= haystack.Length - needle.Length; i = Array.IndexOf(haystack, first, i + 1))
            {
                var match = true;
                for (var j = 1; j < needle.Length; j++)
                {
                    if (haystack[i + j] != needle[j]) { match = false; break; }
                }
                if (match) return i;
            }
            return -1;
        }
    }

#if !MOELAYERS_LIBRARY
    /// <summary>MSBuild task: marks libLibTorchSharp.so's GLIBCXX_3.4.32 need weak where the system lacks it.</summary>
    public sealed class PatchTorchSharpGlibcxx : Microsoft.Build.Utilities.Task
    {
        /// <summary>Candidate native library paths; missing ones are ignored.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            if (!GlibcxxWeakVersionPatch.IsNeededOnThisMachine(out var reason))
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "MoeLayers: TorchSharp native patch not needed (" + reason + ").");
                return true;
            }
            foreach (var item in Files)
            {
                var path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                try
                {
                    var outcome = GlibcxxWeakVersionPatch.Apply(path);
                    var importance = outcome == GlibcxxPatchOutcome.Patched
                        ? Microsoft.Build.Framework.MessageImportance.High
                        : Microsoft.Build.Framework.MessageImportance.Low;
                    Log.LogMessage(importance, "MoeLayers: " + path + ": " + outcome + " (" + reason + ").");
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
                {
                    Log.LogWarning("MoeLayers: could not patch " + path + ": " + e.Message);
                }
            }
            return true;
        }
    }
#endif
}
