using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// One projection's LoRA update in the form a forward computes it: x·W + (x·Down)·Up, with Down = A [.., in, r] and
    /// Up = s·B [.., r, out] (the scale folded into B), both in the rows' dtype (<see cref="LoraAdapters.Updates"/>).
    /// A value made per forward from the adapters' parameters; autograd carries its gradients back to them.
    /// </summary>
    /// <param name="Down">A [E, in, r] (shared experts: [in, r]).</param>
    /// <param name="Up">s·B [E, r, out] (shared experts: [r, out]).</param>
    internal readonly record struct LowRankUpdate(Tensor Down, Tensor Up);

    /// <summary>The LoRA updates of an expert MLP's projections for one forward; null where a projection has no adapter.</summary>
    /// <param name="Input">The update of w_in.</param>
    /// <param name="Gate">The update of w_gate.</param>
    /// <param name="Output">The update of w_out.</param>
    internal readonly record struct AdapterUpdates(LowRankUpdate? Input, LowRankUpdate? Gate, LowRankUpdate? Output);
}
