using MoeLayers.Cuda.Dispatch;
using MoeLayers.Cuda.Kernels;
using MoeLayers.Routing;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.Routing
{
    /// <summary>Top-k routing from logits with the fused kernel, returning the same <see cref="RoutingResult"/> a TopKRouter makes.</summary>
    internal static class FusedTopK
    {
        /// <summary>Selects k experts per token from float32 logits [T, E]; gradients flow to the logits.</summary>
        public static RoutingResult Route(FusedKernels kernels, Tensor logits, int topK, TopKOrder order, bool renormalize)
        {
            var selection = order == TopKOrder.TopKThenSoftmax ? TopKSelection.TopKThenSoftmax
                : renormalize ? TopKSelection.SoftmaxThenTopKRenormalized
                : TopKSelection.SoftmaxThenTopK;
            FusedTopKFunction.LastCounts = null;
            var outputs = FusedTopKFunction.apply(logits, kernels, topK, selection);
            var (weights, probabilities, indices) = (outputs[0], outputs[1], outputs[2]);
            if (FusedTopKFunction.LastCounts is { } counts) RoutingCounts.Remember(indices, counts);
            FusedTopKFunction.LastCounts = null;
            return new RoutingResult(indices, weights, logits, probabilities);
        }
    }
}
