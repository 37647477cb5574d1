using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoeLayers
{
    /// <summary>
    /// MKL's variable-size batched GEMMs (cblas_sgemm_batch, cblas_dgemm_batch), bound at run time with
    /// <see cref="NativeLibrary"/> from the libtorch_cpu that TorchSharp loaded (the TorchSharp-cpu 0.107 build for
    /// linux-x64 links MKL statically and exports them). MKL_INT is 32-bit there (LP64 interface, as PyTorch builds it);
    /// the bindings pass int arrays. Absent entry points (other platforms, other builds) leave <see cref="TryLoad"/> with
    /// the reason, and the callers keep the per-expert products.
    /// </summary>
    internal sealed class MklApi
    {
        /// <summary>CblasColMajor.</summary>
        internal const int ColMajor = 102;

        /// <summary>CblasNoTrans.</summary>
        internal const int NoTrans = 111;

        /// <summary>CblasTrans.</summary>
        internal const int Trans = 112;

        private MklApi(string path, SgemmBatch sgemm, DgemmBatch dgemm)
        {
            Path = path;
            Sgemm = sgemm;
            Dgemm = dgemm;
        }

        /// <summary>cblas_sgemm_batch, MKL_INT = int.</summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void SgemmBatch(int layout, int[] transA, int[] transB, int[] m, int[] n, int[] k, float[] alpha,
            IntPtr[] a, int[] lda, IntPtr[] b, int[] ldb, float[] beta, IntPtr[] c, int[] ldc, int groupCount, int[] groupSize);

        /// <summary>cblas_dgemm_batch, MKL_INT = int.</summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void DgemmBatch(int layout, int[] transA, int[] transB, int[] m, int[] n, int[] k, double[] alpha,
            IntPtr[] a, int[] lda, IntPtr[] b, int[] ldb, double[] beta, IntPtr[] c, int[] ldc, int groupCount, int[] groupSize);

        /// <summary>The library the entry points came from.</summary>
        public string Path { get; }

        /// <summary>The float32 batch.</summary>
        public SgemmBatch Sgemm { get; }

        /// <summary>The float64 batch.</summary>
        public DgemmBatch Dgemm { get; }

        /// <summary>Null and the bindings, or the reason there are none.</summary>
        /// <param name="api">The bindings when found.</param>
        public static string? TryLoad(out MklApi? api)
        {
            api = null;
            // TorchSharp's own backend is loaded first, so that the bare name finds the library already in the process.
            if (!torch.TryInitializeDeviceType(DeviceType.CPU)) return "TorchSharp's CPU backend did not load.";
            var tried = new List<string>();
            foreach (var candidate in Candidates())
            {
                tried.Add(candidate);
                if (!NativeLibrary.TryLoad(candidate, out var library)) continue;
                if (NativeLibrary.TryGetExport(library, "cblas_sgemm_batch", out var sgemm)
                    && NativeLibrary.TryGetExport(library, "cblas_dgemm_batch", out var dgemm))
                {
                    api = new MklApi(candidate, Marshal.GetDelegateForFunctionPointer<SgemmBatch>(sgemm), Marshal.GetDelegateForFunctionPointer<DgemmBatch>(dgemm));
                    return null;
                }
            }
            return $"no loaded libtorch_cpu exports MKL's cblas_sgemm_batch and cblas_dgemm_batch (tried {string.Join(", ", tried)}).";
        }

        /// <summary>The libtorch_cpu names and paths to try: the bare name (found among loaded libraries), then TorchSharp's folders.</summary>
        private static IEnumerable<string> Candidates()
        {
            var fileName = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "torch_cpu.dll"
                : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libtorch_cpu.dylib" : "libtorch_cpu.so";
            yield return fileName;
            var rid = (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win" : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "linux")
                      + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            foreach (var folder in new[] { System.IO.Path.GetDirectoryName(typeof(torch).Assembly.Location), AppContext.BaseDirectory })
            {
                if (string.IsNullOrEmpty(folder)) continue;
                foreach (var path in new[] { System.IO.Path.Combine(folder, "runtimes", rid, "native", fileName), System.IO.Path.Combine(folder, fileName) })
                {
                    if (File.Exists(path)) yield return path;
                }
            }
        }

        /// <summary>
        /// The per-problem argument arrays of a column-major batch with one problem per group: transposes, m, n, k, the
        /// leading dimensions and the group sizes (all 1), in that order.
        /// </summary>
        /// <param name="problems">The problems.</param>
        internal static (int[] TransA, int[] TransB, int[] M, int[] N, int[] K, int[] Lda, int[] Ldb, int[] Ldc, int[] GroupSize) Arguments(IReadOnlyList<GemmProblem> problems)
        {
            var count = problems.Count;
            var (transA, transB, m, n, k) = (new int[count], new int[count], new int[count], new int[count], new int[count]);
            var (lda, ldb, ldc, groupSize) = (new int[count], new int[count], new int[count], new int[count]);
            for (var i = 0; i < count; i++)
            {
                var p = problems[i];
                (transA[i], transB[i]) = (p.TransA ? Trans : NoTrans, p.TransB ? Trans : NoTrans);
                (m[i], n[i], k[i]) = (p.M, p.N, p.K);
                (lda[i], ldb[i], ldc[i], groupSize[i]) = (p.Lda, p.Ldb, p.Ldc, 1);
            }
            return (transA, transB, m, n, k, lda, ldb, ldc, groupSize);
        }
    }
}
