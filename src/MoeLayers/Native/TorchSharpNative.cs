using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace MoeLayers
{
    /// <summary>
    /// Checks that TorchSharp's native backend loads, and explains why when it does not.
    /// MoeLayers calls <see cref="EnsureAvailable"/> before creating any module; applications may call it at start-up
    /// to fail early with a readable message instead of TorchSharp's raw loader trace.
    /// </summary>
    public static class TorchSharpNative
    {
        private static readonly object Gate = new();
        private static bool _available;

        /// <summary>Loads TorchSharp's CPU backend once per process, or throws <see cref="TorchSharpNativeException"/>.</summary>
        public static void EnsureAvailable()
        {
            if (_available) return;
            lock (Gate)
            {
                if (_available) return;
                Exception? failure = null;
                try
                {
                    if (torch.TryInitializeDeviceType(DeviceType.CPU))
                    {
                        _available = true;
                        return;
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
                throw new TorchSharpNativeException(Diagnose(failure), failure);
            }
        }

        /// <summary>
        /// Checks the native library, then returns <paramref name="moduleName"/>: for module constructors, whose base
        /// constructor runs before their own body and must not be the first native call.
        /// </summary>
        internal static string Checked(string moduleName)
        {
            EnsureAvailable();
            return moduleName;
        }

        /// <summary>Describes why the native library might not load on this machine; used in exception messages.</summary>
        /// <param name="failure">The original loader failure, if any.</param>
        public static string Diagnose(Exception? failure = null) => Diagnose(failure, AppContext.BaseDirectory);

        /// <summary>Diagnosis for an application installed in <paramref name="baseDirectory"/>.</summary>
        internal static string Diagnose(Exception? failure, string baseDirectory)
        {
            var text = new StringBuilder("TorchSharp's native library could not be loaded, so no MoeLayers module can be created. ");
            var native = FindNativeLibrary(baseDirectory);
            if (native == null)
            {
                text.Append("No libLibTorchSharp native library was found next to the application (")
                    .Append(baseDirectory)
                    .Append("). Remedy: reference a TorchSharp backend package from the application project: ")
                    .Append("TorchSharp-cpu, or TorchSharp-cuda-linux / TorchSharp-cuda-windows for NVIDIA GPUs.");
            }
            else if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && HasUnmetGlibcxxNeed(native, out var reason))
            {
                text.Append(native).Append(" requires ").Append(GlibcxxWeakVersionPatch.Version)
                    .Append(" (the C++ runtime of GCC 13) but ").Append(reason).Append(". ")
                    .Append("The only symbol tied to that version is a marker without relocation, so the need can safely be marked weak. ")
                    .Append("Remedy: build the application with the MoeLayers package referenced (its build targets patch the copy in the output ")
                    .Append("folder after every build and publish, unless MoeLayersPatchTorchSharpNative is false), or install libstdc++ from GCC 13 or newer.");
            }
            else
            {
                text.Append("Native library found at ").Append(native).Append(". ");
                if (failure != null)
                {
                    text.Append("Loader error: ").Append(Innermost(failure).Message).Append(' ');
                }
                text.Append("Check that the TorchSharp backend package version matches TorchSharp (0.107.x) and that the process architecture is x64 or arm64.");
            }
            return text.ToString();
        }

        private static bool HasUnmetGlibcxxNeed(string native, out string reason)
        {
            reason = string.Empty;
            try
            {
                return GlibcxxWeakVersionPatch.IsNeededOnThisMachine(out reason)
                       && GlibcxxWeakVersionPatch.HasStrictNeed(native, GlibcxxWeakVersionPatch.Version);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
            {
                return false;
            }
        }

        private static string? FindNativeLibrary(string baseDirectory)
        {
            var fileName = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "LibTorchSharp.dll"
                : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";
            var rid = (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win" : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "linux")
                      + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            foreach (var candidate in new[]
                     {
                         Path.Combine(baseDirectory, "runtimes", rid, "native", fileName),
                         Path.Combine(baseDirectory, fileName),
                     })
            {
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        private static Exception Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            return e;
        }
    }
}
