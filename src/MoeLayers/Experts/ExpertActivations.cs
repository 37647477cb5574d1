using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>The hidden activation of an expert, shared by the routed expert bank and the shared experts.</summary>
    internal static class ExpertActivations
    {
        /// <summary>ReLU(h), GELU(h), or SiLU(gate) ⊙ h for SwiGLU (where <paramref name="gate"/> = x·W_gate).</summary>
        /// <param name="activation">The activation.</param>
        /// <param name="hidden">x·W_in (+ b_in).</param>
        /// <param name="gate">x·W_gate for SwiGLU, else null.</param>
        public static Tensor Apply(ExpertActivation activation, Tensor hidden, Tensor? gate) => activation switch
        {
            ExpertActivation.Relu => nn.functional.relu(hidden),
            ExpertActivation.Gelu => nn.functional.gelu(hidden),
            ExpertActivation.SwiGlu => nn.functional.silu(gate ?? throw new ArgumentNullException(nameof(gate), "SwiGLU needs the gate projection.")) * hidden,
            _ => throw new InvalidOperationException($"Unknown activation {activation}."),
        };
    }
}
