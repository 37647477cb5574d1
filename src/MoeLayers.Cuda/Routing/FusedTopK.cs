using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>Top-k routing from logits with the fused kernel, returning the same <see cref="RoutingResult"/> a top-k router makes.</summary>
    internal static class FusedTopK
    {
        /// <summary>
        /// Selects k experts per token from float32 logits [T, E]; gradients flow to the logits. The kernel's per-block
        /// expert counts come back with the routing, for the dispatcher to reuse instead of counting again.
        /// </summary>
        public static AcceleratedRouting Route(FusedKernels kernels, Tensor logits, int topK, TopKOrder order, bool renormalize)
        {
            var selection = order == TopKOrder.TopKThenSoftmax ? TopKSelection.TopKThenSoftmax
                : renormalize ? TopKSelection.SoftmaxThenTopKRenormalized
                : TopKSelection.SoftmaxThenTopK;
            var outputs = FusedTopKFunction.apply(logits, kernels, topK, selection);
            var (weights, probabilities, indices) = (outputs[0], outputs[1], outputs[2]);
            var counts = new ExpertCounts(outputs[3], outputs[4], kernels.Geometry.Partition(logits.shape[0], topK, (int)logits.shape[1]));
            return new AcceleratedRouting(new RoutingResult(indices, weights, logits, probabilities), counts);
        }
    }
}
