using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A faster top-k selection for some devices, supplied with a dispatch accelerator (MoeLayers.Cuda): softmax and top-k
    /// on float32 router logits [T, E] in one kernel, with gradient to the logits, leaving per-expert counts on the device
    /// that the same accelerator's dispatch reuses; null when the case is not handled (the router then selects itself).
    /// </summary>
    internal interface IRoutingAccelerator
    {
        /// <summary>The selection of <paramref name="topK"/> experts per token in <paramref name="order"/>, weights renormalized over the k when asked.</summary>
        AcceleratedRouting? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize);
    }

    /// <summary>A routing decision made by an accelerator's kernel, with the per-expert counts it left on the device.</summary>
    internal sealed record AcceleratedRouting(RoutingResult Routing, object DeviceCounts);
}
