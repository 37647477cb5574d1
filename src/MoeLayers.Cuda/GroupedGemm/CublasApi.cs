using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The few cuBLAS functions the grouped GEMM needs, bound at run time with <see cref="NativeLibrary"/> from the cuBLAS
    /// the process already has (libtorch_cuda loads PyTorch's or the CUDA toolkit's libcublas.so.13/.12; dlopen by soname
    /// returns that copy), so the package ships no CUDA library and a machine without one gets a reason, not a
    /// DllNotFoundException. cublasGemmGroupedBatchedEx exists from cuBLAS 12.5 (CUDA 12.5) on.
    /// </summary>
    internal sealed unsafe class CublasApi
    {
        /// <summary>Environment variable naming a cuBLAS library file to use instead of the search.</summary>
        public const string LibraryVariable = "MOELAYERS_CUBLAS";

        /// <summary>CUBLAS_OP_N.</summary>
        public const int OpN = 0;

        /// <summary>CUBLAS_OP_T.</summary>
        public const int OpT = 1;

        /// <summary>CUDA_R_32F.</summary>
        public const int DataFloat32 = 0;

        /// <summary>CUDA_R_16F.</summary>
        public const int DataFloat16 = 2;

        /// <summary>CUDA_R_16BF.</summary>
        public const int DataBFloat16 = 14;

        /// <summary>CUBLAS_COMPUTE_32F: float32 accumulation, inputs used as they are.</summary>
        public const int Compute32F = 68;

        /// <summary>CUBLAS_COMPUTE_32F_FAST_TF32: float32 inputs rounded to TF32 for the tensor cores.</summary>
        public const int Compute32FFastTf32 = 77;

        private const int MajorVersion = 0;
        private const int MinorVersion = 1;
        private const int PatchLevel = 2;

        private readonly delegate* unmanaged<IntPtr*, int> _create;
        private readonly delegate* unmanaged<IntPtr, IntPtr, int> _setStream;
        private readonly delegate* unmanaged<int, int*, int> _getProperty;
        private readonly delegate* unmanaged<int, byte*> _getStatusString;
        private readonly delegate* unmanaged<IntPtr, int*, int*, int*, int*, int*, float*, void**, int, int*, void**, int, int*, float*, void**, int, int*, int, int*, int, int> _gemmGroupedBatchedEx;

        private CublasApi(IntPtr library, string path)
        {
            Path = path;
            _create = (delegate* unmanaged<IntPtr*, int>)Export(library, "cublasCreate_v2");
            _setStream = (delegate* unmanaged<IntPtr, IntPtr, int>)Export(library, "cublasSetStream_v2");
            _getProperty = (delegate* unmanaged<int, int*, int>)Export(library, "cublasGetProperty");
            _getStatusString = NativeLibrary.TryGetExport(library, "cublasGetStatusString", out var statusString)
                ? (delegate* unmanaged<int, byte*>)statusString
                : null;
            _gemmGroupedBatchedEx = (delegate* unmanaged<IntPtr, int*, int*, int*, int*, int*, float*, void**, int, int*, void**, int, int*, float*, void**, int, int*, int, int*, int, int>)
                Export(library, "cublasGemmGroupedBatchedEx");
        }

        /// <summary>The library file or name that was loaded.</summary>
        public string Path { get; }

        /// <summary>The names tried, in order (after <see cref="LibraryVariable"/>).</summary>
        public static IReadOnlyList<string> LibraryNames { get; } = OperatingSystem.IsWindows()
            ? new[] { "cublas64_13.dll", "cublas64_12.dll" }
            : new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so" };

        /// <summary>The library's version as major.minor.patch.</summary>
        public string Version
        {
            get
            {
                int major, minor, patch;
                _getProperty(MajorVersion, &major);
                _getProperty(MinorVersion, &minor);
                _getProperty(PatchLevel, &patch);
                return $"{major}.{minor}.{patch}";
            }
        }

        /// <summary>Loads cuBLAS and its grouped GEMM, or says why not (no library, or one older than 12.5).</summary>
        /// <param name="api">The bound functions, or null.</param>
        /// <param name="overridePath">The one library to try; by default <see cref="LibraryVariable"/>'s value, or the search when unset.</param>
        /// <returns>Null on success, otherwise the reason.</returns>
        public static string? TryLoad(out CublasApi? api, string? overridePath = null)
        {
            api = null;
            overridePath ??= Environment.GetEnvironmentVariable(LibraryVariable);
            var candidates = string.IsNullOrEmpty(overridePath) ? LibraryNames : new[] { overridePath };
            foreach (var name in candidates)
            {
                if (!NativeLibrary.TryLoad(name, out var library)) continue;
                if (!NativeLibrary.TryGetExport(library, "cublasGemmGroupedBatchedEx", out _))
                {
                    var version = NativeLibrary.TryGetExport(library, "cublasGetProperty", out _) ? "" : " (no cublasGetProperty either)";
                    return $"{name} has no cublasGemmGroupedBatchedEx{version}: it needs cuBLAS 12.5 (CUDA 12.5) or newer.";
                }
                try
                {
                    api = new CublasApi(library, name);
                    return null;
                }
                catch (EntryPointNotFoundException e)
                {
                    return $"{name} lacks the cuBLAS function {e.Message}.";
                }
            }
            return string.IsNullOrEmpty(overridePath)
                ? $"no cuBLAS library could be loaded (tried {string.Join(", ", LibraryNames)}); a CUDA build of libtorch normally brings one."
                : $"{LibraryVariable}={overridePath} could not be loaded{(File.Exists(overridePath) ? "" : " (no such file)")}.";
        }

        /// <summary>A new handle whose work goes to <paramref name="stream"/> (IntPtr.Zero: the legacy default stream).</summary>
        /// <param name="stream">The CUDA stream.</param>
        public IntPtr CreateHandle(IntPtr stream)
        {
            IntPtr handle;
            Check(_create(&handle), "cublasCreate");
            Check(_setStream(handle, stream), "cublasSetStream");
            return handle;
        }

        /// <summary>
        /// One cublasGemmGroupedBatchedEx call: every problem of <paramref name="problems"/> its own group of one, alpha 1 and
        /// beta 0; the pointer arrays (A pointers, then B, then C) must already be in device memory.
        /// </summary>
        /// <param name="handle">A handle from <see cref="CreateHandle"/>.</param>
        /// <param name="problems">The problems' shapes.</param>
        /// <param name="devicePointers">Device address of 3 · problems.Count pointers.</param>
        /// <param name="dataType">CUDA_R_* of A, B and C.</param>
        /// <param name="computeType">CUBLAS_COMPUTE_*.</param>
        public void GemmGroupedBatched(IntPtr handle, IReadOnlyList<GemmProblem> problems, IntPtr devicePointers, int dataType, int computeType)
        {
            var count = problems.Count;
            var (ints, scales) = Arguments(problems);
            var pointers = (void**)devicePointers;
            fixed (int* v = ints)
            fixed (float* s = scales)
            {
                Check(_gemmGroupedBatchedEx(handle, v, v + count, v + 2 * count, v + 3 * count, v + 4 * count, s,
                    pointers, dataType, v + 5 * count, pointers + count, dataType, v + 6 * count, s + count,
                    pointers + 2 * count, dataType, v + 7 * count, count, v + 8 * count, computeType), "cublasGemmGroupedBatchedEx");
            }
        }

        /// <summary>
        /// The host arrays of the call, P = problems.Count: ints = transa, transb, m, n, k, lda, ldb, ldc, group sizes (P
        /// each, in that order; every problem is its own group of one), scales = alpha (P ones), beta (P zeros).
        /// </summary>
        /// <param name="problems">The problems.</param>
        internal static (int[] Ints, float[] Scales) Arguments(IReadOnlyList<GemmProblem> problems)
        {
            var count = problems.Count;
            var ints = new int[9 * count];
            var scales = new float[2 * count];
            for (var i = 0; i < count; i++)
            {
                var p = problems[i];
                ints[i] = p.TransA ? OpT : OpN;
                ints[count + i] = p.TransB ? OpT : OpN;
                ints[2 * count + i] = p.M;
                ints[3 * count + i] = p.N;
                ints[4 * count + i] = p.K;
                ints[5 * count + i] = p.Lda;
                ints[6 * count + i] = p.Ldb;
                ints[7 * count + i] = p.Ldc;
                ints[8 * count + i] = 1;
                scales[i] = 1.0f;
                scales[count + i] = 0.0f;
            }
            return (ints, scales);
        }

        private void Check(int status, string call)
        {
            if (status == 0) return;
            var text = _getStatusString is null ? null : Marshal.PtrToStringUTF8((IntPtr)_getStatusString(status));
            throw new InvalidOperationException($"{call} failed with cuBLAS status {status}{(text is null ? "" : $" ({text})")}.");
        }

        private static IntPtr Export(IntPtr library, string name) =>
            NativeLibrary.TryGetExport(library, name, out var address) ? address : throw new EntryPointNotFoundException(name);
    }
}
