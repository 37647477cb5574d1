using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A faster top-k selection for some devices, supplied with a dispatch accelerator (MoeLayers.Cuda): softmax and
    /// top-k on router logits in one kernel, leaving per-expert counts that the same accelerator's dispatch reuses.
    /// </summary>
    internal interface IRoutingAccelerator
    {
        /// <summary>
        /// Softmax and top-k selection on router logits [T, E] in one kernel, with gradient to the logits; null when
        /// this case is not handled (the router then selects with TorchSharp ops).
        /// </summary>
        /// <param name="logits">float32 router logits [T, E].</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="order">Softmax/top-k order.</param>
        /// <param name="renormalize">Rescale the k weights to sum to 1 (softmax-then-top-k only).</param>
        AcceleratedRouting? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize);
    }

    /// <summary>A routing decision made by an accelerator's kernel, with the per-expert counts it left on the device.</summary>
    /// <param name="Routing">The routing decision, as a router would make it.</param>
    /// <param name="DeviceCounts">The kernel's counts, which the same accelerator's dispatcher reuses.</param>
    internal sealed record AcceleratedRouting(RoutingResult Routing, object DeviceCounts);
}
