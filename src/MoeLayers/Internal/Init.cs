using System;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Parameter creation shared by routers and expert banks.</summary>
    internal static class Init
    {
        /// <summary>float32 tensor of <paramref name="shape"/> drawn from Uniform(±1/√fan_in), nn.Linear's default.</summary>
        public static Tensor Uniform(long fanIn, params long[] shape)
        {
            var bound = 1.0 / Math.Sqrt(fanIn);
            return empty(shape, ScalarType.Float32).uniform_(-bound, bound);
        }

        /// <summary>
        /// Wraps <paramref name="data"/> as a parameter owned by its module, not by the dispose scope the module was built
        /// in: a layer constructed inside <c>torch.NewDisposeScope()</c> keeps its parameters when that scope ends, as
        /// TorchSharp's own modules do.
        /// </summary>
        public static Parameter Parameter(Tensor data)
        {
            var parameter = new Parameter(data);
            parameter.DetachFromDisposeScope();
            return parameter;
        }
    }
}
