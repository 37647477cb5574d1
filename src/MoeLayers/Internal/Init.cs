using System;
using static TorchSharp.torch;

namespace MoeLayers.Internal
{
    /// <summary>Parameter initialization shared by routers and expert banks.</summary>
    internal static class Init
    {
        /// <summary>float32 tensor of <paramref name="shape"/> drawn from Uniform(±1/√fan_in), nn.Linear's default.</summary>
        public static Tensor Uniform(long fanIn, params long[] shape)
        {
            var bound = 1.0 / Math.Sqrt(fanIn);
            return empty(shape, ScalarType.Float32).uniform_(-bound, bound);
        }
    }
}
