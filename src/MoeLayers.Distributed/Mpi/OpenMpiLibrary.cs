using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// A minimal binding of Open MPI's C API (libmpi.so.40), resolved at run time: the library is opened with
    /// <see cref="NativeLibrary"/> and every function is called through an unmanaged function pointer taken from its
    /// export, so nothing is bound at build time and a missing library gives a readable error instead of a
    /// <see cref="DllNotFoundException"/> deep inside a call. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM,
    /// MPI_ERRORS_RETURN, ...) are addresses of exported globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>,
    /// <c>ompi_mpi_op_sum</c>, ...), so they are taken from the library too. MPICH-family libraries (libmpi.so.12, Intel
    /// MPI, MS-MPI) use integer handles and are refused with an explanation.
    /// </summary>
    internal sealed unsafe class OpenMpiLibrary
    {
        /// <summary>MPI_SUCCESS.</summary>
        public const int Success = 0;

        /// <summary>MPI_THREAD_FUNNELED.</summary>
        public const int ThreadFunneled = 1;

        /// <summary>MPI_THREAD_SERIALIZED.</summary>
        public const int ThreadSerialized = 2;

        /// <summary>MPI_MAX_ERROR_STRING and MPI_MAX_LIBRARY_VERSION_STRING in Open MPI 4 and 5.</summary>
        private const int MaxString = 256;

        private static readonly object Gate = new();
        private static OpenMpiLibrary? _loaded;

        private OpenMpiLibrary(string path, IntPtr handle)
        {
            Path = path;
            Handle = handle;
            Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
            Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
            QueryThread = (delegate* unmanaged<int*, int>)Export("MPI_Query_thread");
            FinalizeMpi = (delegate* unmanaged<int>)Export("MPI_Finalize");
            Abort = (delegate* unmanaged<IntPtr, int, int>)Export("MPI_Abort");
            CommRank = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_rank");
            CommSize = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_size");
            CommIdup = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr*, int>)Export("MPI_Comm_idup");
            CommFree = (delegate* unmanaged<IntPtr*, int>)Export("MPI_Comm_free");
            CommSetErrhandler = (delegate* unmanaged<IntPtr, IntPtr, int>)Export("MPI_Comm_set_errhandler");
            ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
            GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Export("MPI_Get_library_version");
            Ialltoall = (delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, IntPtr, IntPtr*, int>)Export("MPI_Ialltoall");
            Ialltoallv = (delegate* unmanaged<void*, int*, int*, IntPtr, void*, int*, int*, IntPtr, IntPtr, IntPtr*, int>)Export("MPI_Ialltoallv");
            Iallreduce = (delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, IntPtr*, int>)Export("MPI_Iallreduce");
            Iallgather = (delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, IntPtr, IntPtr*, int>)Export("MPI_Iallgather");
            Iallgatherv = (delegate* unmanaged<void*, int, IntPtr, void*, int*, int*, IntPtr, IntPtr, IntPtr*, int>)Export("MPI_Iallgatherv");
            Ibarrier = (delegate* unmanaged<IntPtr, IntPtr*, int>)Export("MPI_Ibarrier");
            Test = (delegate* unmanaged<IntPtr*, int*, void*, int>)Export("MPI_Test");
            TypeContiguous = (delegate* unmanaged<int, IntPtr, IntPtr*, int>)Export("MPI_Type_contiguous");
            TypeCommit = (delegate* unmanaged<IntPtr*, int>)Export("MPI_Type_commit");
            TypeFree = (delegate* unmanaged<IntPtr*, int>)Export("MPI_Type_free");

            CommWorld = Export("ompi_mpi_comm_world");
            ErrorsReturn = Export("ompi_mpi_errors_return");
            Byte = Export("ompi_mpi_byte");
            Float = Export("ompi_mpi_float");
            Double = Export("ompi_mpi_double");
            Int64 = Export("ompi_mpi_int64_t");
            Int32 = Export("ompi_mpi_int32_t");
            Int16 = Export("ompi_mpi_int16_t");
            Int8 = Export("ompi_mpi_int8_t");
            UInt8 = Export("ompi_mpi_uint8_t");
            OpSum = Export("ompi_mpi_op_sum");
            OpMax = Export("ompi_mpi_op_max");
            OpMin = Export("ompi_mpi_op_min");
        }

        /// <summary>Environment variable naming the libmpi to load instead of searching the usual places.</summary>
        public const string LibraryPathVariable = "MOELAYERS_MPI_LIBRARY";

        /// <summary>The remedy printed whenever MPI is missing.</summary>
        public const string InstallHint = "Install Open MPI: `apt-get update && apt-get install -y openmpi-bin libopenmpi-dev` on Debian/Ubuntu " +
                                          "(the repository's build/install-openmpi.sh does this when mpirun is missing), `dnf install openmpi` on Fedora/RHEL, " +
                                          "or point " + LibraryPathVariable + " at an Open MPI 4.x/5.x libmpi.so.40.";

        /// <summary>The file that was loaded.</summary>
        public string Path { get; }

        /// <summary>The native library handle.</summary>
        public IntPtr Handle { get; }

        // One field per MPI function or predefined handle, named after it.
        public readonly delegate* unmanaged<int*, int> Initialized;
        public readonly delegate* unmanaged<int*, int> Finalized;
        public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
        public readonly delegate* unmanaged<int*, int> QueryThread;
        public readonly delegate* unmanaged<int> FinalizeMpi;
        public readonly delegate* unmanaged<IntPtr, int, int> Abort;
        public readonly delegate* unmanaged<IntPtr, int*, int> CommRank;
        public readonly delegate* unmanaged<IntPtr, int*, int> CommSize;
        public readonly delegate* unmanaged<IntPtr, IntPtr*, IntPtr*, int> CommIdup;
        public readonly delegate* unmanaged<IntPtr*, int> CommFree;
        public readonly delegate* unmanaged<IntPtr, IntPtr, int> CommSetErrhandler;
        public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;
        public readonly delegate* unmanaged<byte*, int*, int> GetLibraryVersion;
        public readonly delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, IntPtr, IntPtr*, int> Ialltoall;
        public readonly delegate* unmanaged<void*, int*, int*, IntPtr, void*, int*, int*, IntPtr, IntPtr, IntPtr*, int> Ialltoallv;
        public readonly delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, IntPtr*, int> Iallreduce;
        public readonly delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, IntPtr, IntPtr*, int> Iallgather;
        public readonly delegate* unmanaged<void*, int, IntPtr, void*, int*, int*, IntPtr, IntPtr, IntPtr*, int> Iallgatherv;
        public readonly delegate* unmanaged<IntPtr, IntPtr*, int> Ibarrier;
        public readonly delegate* unmanaged<IntPtr*, int*, void*, int> Test;
        public readonly delegate* unmanaged<int, IntPtr, IntPtr*, int> TypeContiguous;
        public readonly delegate* unmanaged<IntPtr*, int> TypeCommit;
        public readonly delegate* unmanaged<IntPtr*, int> TypeFree;

        public readonly IntPtr CommWorld;
        public readonly IntPtr ErrorsReturn;
        public readonly IntPtr Byte;
        public readonly IntPtr Float;
        public readonly IntPtr Double;
        public readonly IntPtr Int64;
        public readonly IntPtr Int32;
        public readonly IntPtr Int16;
        public readonly IntPtr Int8;
        public readonly IntPtr UInt8;
        public readonly IntPtr OpSum;
        public readonly IntPtr OpMax;
        public readonly IntPtr OpMin;

        /// <summary>
        /// Loads Open MPI once per process: from <paramref name="explicitPath"/> if given, else from
        /// <see cref="LibraryPathVariable"/> if set, else from the usual names and folders. Throws
        /// <see cref="MpiNotAvailableException"/> saying what was tried and what to install.
        /// </summary>
        public static OpenMpiLibrary Load(string? explicitPath)
        {
            lock (Gate)
            {
                if (_loaded != null)
                {
                    if (explicitPath != null && !SamePath(explicitPath, _loaded.Path))
                        throw new InvalidOperationException($"Open MPI is already loaded in this process from {_loaded.Path}; it cannot also be loaded from {explicitPath}.");
                    return _loaded;
                }
                var (library, path) = Open(explicitPath, Environment.GetEnvironmentVariable(LibraryPathVariable), NativeLibrary.TryLoad);
                _loaded = new OpenMpiLibrary(path, library);
                return _loaded;
            }
        }

        /// <summary>Where to look, in order: the explicit path, else the environment variable, else the usual places.</summary>
        internal static IReadOnlyList<string> Candidates(string? explicitPath, string? variablePath)
        {
            if (!string.IsNullOrWhiteSpace(explicitPath)) return new[] { explicitPath! };
            if (!string.IsNullOrWhiteSpace(variablePath)) return new[] { variablePath! };
            if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return new[] { "libmpi.40.dylib", "/opt/homebrew/lib/libmpi.40.dylib", "/usr/local/lib/libmpi.40.dylib", "libmpi.dylib" };
            return new[]
            {
                "libmpi.so.40",
                "/usr/lib/x86_64-linux-gnu/libmpi.so.40",
                "/usr/lib/aarch64-linux-gnu/libmpi.so.40",
                "/usr/lib64/openmpi/lib/libmpi.so.40",
                "/usr/lib/openmpi/lib/libmpi.so.40",
                "/usr/local/lib/libmpi.so.40",
                "/opt/openmpi/lib/libmpi.so.40",
                "libmpi.so",
            };
        }

        /// <summary>
        /// Opens the first candidate that loads and exports Open MPI's globals; the loader is a parameter so that tests can
        /// exercise the messages without the library.
        /// </summary>
        internal static (IntPtr Handle, string Path) Open(string? explicitPath, string? variablePath, TryLoad tryLoad)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                throw new MpiNotAvailableException("MoeLayers.Distributed binds Open MPI (libmpi.so.40 on Linux); Windows' MS-MPI uses a different ABI " +
                                                   "(integer handles) and is not supported. Run the ranks on Linux, e.g. under WSL 2, with Open MPI installed.");
            var candidates = Candidates(explicitPath, variablePath);
            var tried = new StringBuilder();
            foreach (var candidate in candidates)
            {
                if (!tryLoad(candidate, out var handle) || handle == IntPtr.Zero)
                {
                    tried.Append(tried.Length == 0 ? "" : ", ").Append(candidate).Append(" (not found or not loadable)");
                    continue;
                }
                if (!NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _))
                {
                    var mpich = NativeLibrary.TryGetExport(handle, "MPI_Init", out _);
                    var what = mpich
                        ? "is an MPI library but not Open MPI (MPICH, Intel MPI and MVAPICH use integer handles, which this binding does not speak)"
                        : "is not an MPI library (it has no MPI_Init)";
                    NativeLibrary.Free(handle);
                    throw new MpiNotAvailableException($"{candidate} {what}. {InstallHint}");
                }
                return (handle, candidate);
            }
            var source = !string.IsNullOrWhiteSpace(explicitPath)
                ? "the path given in MpiCommunicatorOptions.LibraryPath"
                : !string.IsNullOrWhiteSpace(variablePath)
                    ? "the path in " + LibraryPathVariable
                    : "the usual names and folders";
            throw new MpiNotAvailableException($"Open MPI's library (libmpi.so.40) could not be loaded from {source}; tried {tried}. {InstallHint}");
        }

        /// <summary>The signature of <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/>.</summary>
        internal delegate bool TryLoad(string libraryPath, out IntPtr handle);

        /// <summary>MPI's text for an error code (only between MPI_Init and MPI_Finalize: Open MPI aborts the process otherwise).</summary>
        public string DescribeError(int code)
        {
            int initialized = 0, finalized = 0;
            if (Initialized(&initialized) != Success || initialized == 0 || Finalized(&finalized) != Success || finalized != 0) return $"MPI error code {code}";
            var buffer = stackalloc byte[MaxString + 1];
            var length = 0;
            if (ErrorString(code, buffer, &length) != Success || length <= 0) return $"MPI error code {code}";
            return Encoding.UTF8.GetString(buffer, Math.Min(length, MaxString)).TrimEnd('\0', ' ');
        }

        /// <summary>MPI_Get_library_version's first line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".</summary>
        public string Version()
        {
            var buffer = stackalloc byte[MaxString + 1];
            var length = 0;
            if (GetLibraryVersion(buffer, &length) != Success || length <= 0) return "unknown";
            var text = Encoding.UTF8.GetString(buffer, Math.Min(length, MaxString)).TrimEnd('\0', ' ', '\n');
            var newline = text.IndexOf('\n');
            return newline < 0 ? text : text.Substring(0, newline);
        }

        private IntPtr Export(string name)
        {
            if (NativeLibrary.TryGetExport(Handle, name, out var address) && address != IntPtr.Zero) return address;
            throw new MpiNotAvailableException($"{Path} does not export {name}: it is not Open MPI 4.x/5.x (MPI-3 nonblocking collectives are needed). {InstallHint}");
        }

        private static bool SamePath(string a, string b)
        {
            try
            {
                return string.Equals(System.IO.Path.GetFullPath(a), System.IO.Path.GetFullPath(b), StringComparison.Ordinal) || a == b;
            }
            catch (IOException)
            {
                return a == b;
            }
        }
    }
}
