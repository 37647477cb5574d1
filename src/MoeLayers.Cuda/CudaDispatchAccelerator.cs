using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>What MoeLayers.Cuda plugs into the core: the fused dispatcher and routing on the CUDA launcher.</summary>
    internal sealed class CudaDispatchAccelerator : IDispatchAccelerator
    {
        private readonly FusedKernels _kernels;
        private readonly FusedDispatcher[] _dispatchers;

        public CudaDispatchAccelerator(FusedKernels kernels)
        {
            _kernels = kernels;
            _dispatchers = new[] { DispatchStrategy.Auto, DispatchStrategy.Grouped, DispatchStrategy.Padded }
                .Select(strategy => new FusedDispatcher(kernels, strategy)).ToArray();
        }

        public string Name => DispatchAccelerators.CudaPackage;

        public IExpertDispatcher Dispatcher(DispatchStrategy strategy) => strategy switch
        {
            DispatchStrategy.Grouped => _dispatchers[1],
            DispatchStrategy.Padded => _dispatchers[2],
            _ => _dispatchers[0],
        };

        public string? Unavailable(Tensor input, int numExperts, int topK)
        {
            if (input.device_type != DeviceType.CUDA) return $"the input is on {input.device}, not on a CUDA device.";
            if (KernelCatalog.Rows(input.dtype) is null) return $"the input is {input.dtype}; the fused kernels move float32, bfloat16 and float16 rows.";
            if (numExperts > KernelLimits.MaxExperts) return $"the kernels handle at most {KernelLimits.MaxExperts} experts; the layer has {numExperts}.";
            if (input.shape[0] * (long)topK > int.MaxValue) return $"T·k = {input.shape[0]}·{topK} exceeds the kernels' 32-bit pair indices.";
            return CudaDevices.WhyUnavailable(input.device_index);
        }

        public AcceleratedRouting? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize)
        {
            if (Unavailable(logits, (int)logits.shape[1], topK) is not null || logits.shape[0] == 0) return null;
            return FusedTopK.Route(_kernels, logits, topK, order, renormalize);
        }
    }
}
