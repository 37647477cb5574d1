using System;

namespace MoeLayers
{
    /// <summary>Which projections of each expert (and of the shared experts) carry a LoRA adapter (<see cref="LoraOptions.Projections"/>).</summary>
    [Flags]
    public enum LoraProjections
    {
        /// <summary>No projection.</summary>
        None = 0,

        /// <summary>The input projection w_in [d, h].</summary>
        Input = 1,

        /// <summary>The gate projection w_gate [d, h] of the gated activations (SwiGLU, clamped SwiGLU); ignored by the others.</summary>
        Gate = 2,

        /// <summary>The output projection w_out [h, out].</summary>
        Output = 4,

        /// <summary>Every projection the experts have.</summary>
        All = Input | Gate | Output,
    }
}
