using System;
using System.Collections.Concurrent;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The process-wide driver state: the driver loaded and initialized once, and per device its primary context,
    /// PTX target and loaded kernels. Availability checks never throw; they return what is missing.
    /// </summary>
    internal static class CudaDevices
    {
        private static readonly Lazy<(CudaDriverApi? Api, string? Failure)> Driver = new(LoadDriver);
        private static readonly ConcurrentDictionary<int, Lazy<(CudaDevice? Device, string? Failure)>> Devices = new();

        /// <summary>Null when CUDA device <paramref name="ordinal"/> can run the kernels; otherwise what is missing.</summary>
        /// <param name="ordinal">CUDA device index, as in torch's cuda:N.</param>
        public static string? WhyUnavailable(int ordinal) => Lookup(ordinal).Failure;

        /// <summary>The device, or <see cref="CudaUnavailableException"/> saying what is missing.</summary>
        /// <param name="ordinal">CUDA device index.</param>
        public static CudaDevice Get(int ordinal)
        {
            var (device, failure) = Lookup(ordinal);
            return device ?? throw new CudaUnavailableException(failure!);
        }

        private static (CudaDevice? Device, string? Failure) Lookup(int ordinal) =>
            Devices.GetOrAdd(ordinal, o => new Lazy<(CudaDevice?, string?)>(() => Open(o))).Value;

        private static (CudaDevice?, string?) Open(int ordinal)
        {
            var (api, failure) = Driver.Value;
            if (api is null) return (null, failure);
            try
            {
                var count = api.DeviceCount();
                if (ordinal < 0 || ordinal >= count)
                    return (null, $"CUDA device {ordinal} does not exist; the driver sees {count} device(s) (check CUDA_VISIBLE_DEVICES).");
                var handle = api.Device(ordinal);
                var major = api.Attribute(CudaDriverApi.ComputeCapabilityMajor, handle);
                var minor = api.Attribute(CudaDriverApi.ComputeCapabilityMinor, handle);
                if (major * 10 + minor < CudaTarget.MinimumComputeCapability)
                    return (null, $"CUDA device {ordinal} has compute capability {major}.{minor}; the fused dispatch needs 7.0 (Volta) or newer.");
                var context = api.RetainPrimaryContext(handle);
                return (new CudaDevice(api, ordinal, context, CudaTarget.ForDevice(major, minor)), null);
            }
            catch (CudaDriverException e)
            {
                return (null, $"The CUDA driver failed while opening device {ordinal}: {e.Message}");
            }
        }

        private static (CudaDriverApi?, string?) LoadDriver()
        {
            try
            {
                var api = CudaDriverApi.Load();
                api.Init();
                var version = api.DriverVersion();
                if (version < CudaDriverApi.MinimumDriverVersion)
                    return (null, $"The NVIDIA driver supports CUDA {version / 1000}.{version % 1000 / 10}; the fused dispatch needs 11.0 or newer. Update the driver.");
                return (api, null);
            }
            catch (CudaUnavailableException e)
            {
                return (null, e.Message);
            }
            catch (CudaDriverException e)
            {
                return (null, $"The CUDA driver could not be initialized ({e.Message}); is a GPU visible to this process?");
            }
        }
    }
}
