using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace MoeLayers.Benchmarks
{
    /// <summary>
    /// Which BLAS the C# side runs on: TorchSharp-cpu's libtorch links MKL statically into libtorch_cpu.so, and both
    /// libtorch's own float32 products and the CPU grouped GEMM (cblas_sgemm_batch) call it. The version and thread
    /// count come from MKL itself (MKL_Get_Version_String, mkl_get_max_threads: the entry points that build exports).
    /// </summary>
    internal static class CSharpBlas
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void VersionString(byte[] buffer, int length);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate int MaxThreads();

        /// <summary>One line: MKL's version, its thread count and the library it lives in (or why it was not found).</summary>
        public static string Describe()
        {
            var path = MklGroupedGemm.Describe();
            if (!NativeLibrary.TryLoad(path, out var library)) return $"MKL not found ({path}); libtorch's BLAS unknown";
            var version = "version unknown";
            if (NativeLibrary.TryGetExport(library, "MKL_Get_Version_String", out var versionExport))
            {
                var buffer = new byte[256];
                Marshal.GetDelegateForFunctionPointer<VersionString>(versionExport)(buffer, buffer.Length);
                var length = Array.IndexOf(buffer, (byte)0);
                version = Encoding.ASCII.GetString(buffer, 0, length < 0 ? buffer.Length : length).Trim();
            }
            var threads = NativeLibrary.TryGetExport(library, "mkl_get_max_threads", out var threadsExport)
                ? Marshal.GetDelegateForFunctionPointer<MaxThreads>(threadsExport)().ToString(System.Globalization.CultureInfo.InvariantCulture)
                : "?";
            return $"{version}, {threads} MKL threads, statically linked in {MappedPath(path)}";
        }

        /// <summary>The full path of the mapped library called <paramref name="name"/> (Linux), else the name itself.</summary>
        private static string MappedPath(string name)
        {
            try
            {
                var fileName = Path.GetFileName(name);
                return File.ReadLines("/proc/self/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                    .FirstOrDefault(p => p.StartsWith('/') && Path.GetFileName(p) == fileName) ?? name;
            }
            catch (IOException)
            {
                return name;
            }
        }
    }
}
