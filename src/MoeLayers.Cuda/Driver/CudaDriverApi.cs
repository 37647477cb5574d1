using System;
using System.Runtime.InteropServices;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The handful of CUDA driver API functions the launcher needs, bound at run time from the driver library
    /// (libcuda.so.1 or nvcuda.dll), so that a machine without a driver gets a <see cref="CudaUnavailableException"/>
    /// naming the library instead of a DllNotFoundException at first touch.
    /// </summary>
    internal sealed unsafe class CudaDriverApi
    {
        /// <summary>CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR.</summary>
        public const int ComputeCapabilityMajor = 75;

        /// <summary>CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR.</summary>
        public const int ComputeCapabilityMinor = 76;

        /// <summary>CU_JIT_ERROR_LOG_BUFFER.</summary>
        public const int JitErrorLogBuffer = 5;

        /// <summary>CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES.</summary>
        public const int JitErrorLogBufferSizeBytes = 6;

        /// <summary>The oldest driver that JIT-compiles the PTX ISA of the newest target used (CUDA 11.0 for PTX 7.0).</summary>
        public const int MinimumDriverVersion = 11000;

        private readonly delegate* unmanaged<uint, int> _init;
        private readonly delegate* unmanaged<int*, int> _driverGetVersion;
        private readonly delegate* unmanaged<int*, int> _deviceGetCount;
        private readonly delegate* unmanaged<int*, int, int> _deviceGet;
        private readonly delegate* unmanaged<int*, int, int, int> _deviceGetAttribute;
        private readonly delegate* unmanaged<IntPtr*, int, int> _devicePrimaryCtxRetain;
        private readonly delegate* unmanaged<IntPtr, int> _ctxPushCurrent;
        private readonly delegate* unmanaged<IntPtr*, int> _ctxPopCurrent;
        private readonly delegate* unmanaged<IntPtr*, void*, uint, int*, void**, int> _moduleLoadDataEx;
        private readonly delegate* unmanaged<IntPtr*, IntPtr, byte*, int> _moduleGetFunction;
        private readonly delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int> _launchKernel;
        private readonly delegate* unmanaged<int, byte**, int> _getErrorName;
        private readonly delegate* unmanaged<int, byte**, int> _getErrorString;

        private CudaDriverApi(IntPtr library)
        {
            _init = (delegate* unmanaged<uint, int>)Export(library, "cuInit");
            _driverGetVersion = (delegate* unmanaged<int*, int>)Export(library, "cuDriverGetVersion");
            _deviceGetCount = (delegate* unmanaged<int*, int>)Export(library, "cuDeviceGetCount");
            _deviceGet = (delegate* unmanaged<int*, int, int>)Export(library, "cuDeviceGet");
            _deviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(library, "cuDeviceGetAttribute");
            _devicePrimaryCtxRetain = (delegate* unmanaged<IntPtr*, int, int>)Export(library, "cuDevicePrimaryCtxRetain");
            _ctxPushCurrent = (delegate* unmanaged<IntPtr, int>)Export(library, "cuCtxPushCurrent_v2");
            _ctxPopCurrent = (delegate* unmanaged<IntPtr*, int>)Export(library, "cuCtxPopCurrent_v2");
            _moduleLoadDataEx = (delegate* unmanaged<IntPtr*, void*, uint, int*, void**, int>)Export(library, "cuModuleLoadDataEx");
            _moduleGetFunction = (delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)Export(library, "cuModuleGetFunction");
            _launchKernel = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)Export(library, "cuLaunchKernel");
            _getErrorName = (delegate* unmanaged<int, byte**, int>)Export(library, "cuGetErrorName");
            _getErrorString = (delegate* unmanaged<int, byte**, int>)Export(library, "cuGetErrorString");
        }

        /// <summary>The driver library's file name on this OS.</summary>
        public static string LibraryName => OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";

        /// <summary>Loads the driver library and its functions, or throws <see cref="CudaUnavailableException"/>.</summary>
        public static CudaDriverApi Load()
        {
            if (!NativeLibrary.TryLoad(LibraryName, out var library))
                throw new CudaUnavailableException(
                    $"The NVIDIA driver library {LibraryName} could not be loaded, so no CUDA kernel can run. "
                    + "Install the NVIDIA driver (CUDA 11.0 or newer); in a container, run it with the GPU exposed (e.g. --gpus all).");
            try
            {
                return new CudaDriverApi(library);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new CudaUnavailableException($"{LibraryName} lacks the CUDA driver function {e.Message}; install a CUDA 11.0 or newer driver.", e);
            }
        }

        public void Init() => Check(_init(0), "cuInit");

        public int DriverVersion()
        {
            int version;
            Check(_driverGetVersion(&version), "cuDriverGetVersion");
            return version;
        }

        public int DeviceCount()
        {
            int count;
            Check(_deviceGetCount(&count), "cuDeviceGetCount");
            return count;
        }

        public int Device(int ordinal)
        {
            int device;
            Check(_deviceGet(&device, ordinal), "cuDeviceGet");
            return device;
        }

        public int Attribute(int attribute, int device)
        {
            int value;
            Check(_deviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute");
            return value;
        }

        /// <summary>The device's primary context, the one the CUDA runtime (and so libtorch) uses; retained for the process lifetime.</summary>
        public IntPtr RetainPrimaryContext(int device)
        {
            IntPtr context;
            Check(_devicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
            return context;
        }

        public void PushContext(IntPtr context) => Check(_ctxPushCurrent(context), "cuCtxPushCurrent");

        public void PopContext()
        {
            IntPtr popped;
            Check(_ctxPopCurrent(&popped), "cuCtxPopCurrent");
        }

        /// <summary>Loads a PTX module into the current context (the driver JIT-compiles it); JIT errors are in the message.</summary>
        public IntPtr LoadModule(string ptx, string kernelName)
        {
            var image = Marshal.StringToCoTaskMemUTF8(ptx);
            const int logSize = 8192;
            var log = stackalloc byte[logSize];
            var options = stackalloc int[] { JitErrorLogBuffer, JitErrorLogBufferSizeBytes };
            var values = stackalloc void*[] { log, (void*)(nint)logSize };
            try
            {
                IntPtr module;
                var result = _moduleLoadDataEx(&module, (void*)image, 2, options, values);
                if (result != 0)
                    throw Error(result, $"cuModuleLoadDataEx ({kernelName}): {Marshal.PtrToStringUTF8((IntPtr)log)}");
                return module;
            }
            finally
            {
                Marshal.FreeCoTaskMem(image);
            }
        }

        public IntPtr Function(IntPtr module, string entryName)
        {
            var name = Marshal.StringToCoTaskMemUTF8(entryName);
            try
            {
                IntPtr function;
                Check(_moduleGetFunction(&function, module, (byte*)name), "cuModuleGetFunction " + entryName);
                return function;
            }
            finally
            {
                Marshal.FreeCoTaskMem(name);
            }
        }

        /// <summary>Launches on the legacy default stream (null), the stream all of TorchSharp's CUDA work runs on.</summary>
        public void Launch(IntPtr function, uint blocks, uint threads, void** parameters, string kernelName) =>
            Check(_launchKernel(function, blocks, 1, 1, threads, 1, 1, 0, IntPtr.Zero, parameters, null), "cuLaunchKernel " + kernelName);

        private void Check(int result, string call)
        {
            if (result != 0) throw Error(result, call);
        }

        private CudaDriverException Error(int result, string call)
        {
            byte* name = null;
            byte* text = null;
            _getErrorName(result, &name);
            _getErrorString(result, &text);
            var errorName = name is null ? $"CUDA error {result}" : Marshal.PtrToStringUTF8((IntPtr)name);
            var description = text is null ? string.Empty : ": " + Marshal.PtrToStringUTF8((IntPtr)text);
            return new CudaDriverException($"{call} failed with {errorName}{description}.", result);
        }

        private static IntPtr Export(IntPtr library, string name) =>
            NativeLibrary.TryGetExport(library, name, out var address) ? address : throw new EntryPointNotFoundException(name);
    }
}
