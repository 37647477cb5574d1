using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Copies small tensors (indices, counts, statistics) to managed arrays.</summary>
    internal static class HostCopy
    {
        /// <summary>The tensor's elements in row-major order; empty tensors give an empty array.</summary>
        public static T[] ToArray<T>(Tensor t) where T : unmanaged
        {
            if (t.numel() == 0) return Array.Empty<T>();
            using var host = t.detach().cpu().contiguous();
            return host.data<T>().ToArray();
        }
    }
}
