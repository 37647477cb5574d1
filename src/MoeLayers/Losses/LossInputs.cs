using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Shared argument checks and masking for the auxiliary losses.</summary>
    internal static class LossInputs
    {
        /// <summary>Checks a user's token mask [T] (bool, or only 0 and 1) and returns it as float32, or null when absent.</summary>
        public static Tensor? Checked(Tensor? mask, long tokens, Device device) =>
            TokenMask.From(mask, new[] { tokens }, device, "mask")?.Values32;

        /// <summary>A checked float32 mask [T], or all ones when absent.</summary>
        public static Tensor Mask(Tensor? mask32, long tokens, Device device) =>
            mask32 ?? ones(new[] { tokens }, ScalarType.Float32, device);

        public static void Matrix(Tensor t, string name)
        {
            if (t.dim() != 2) throw new ArgumentException($"{name} must have shape [T, E]; got {Guard.Shape(t)}.", name);
        }

        /// <summary>Sum of the mask, clamped at 1 so an all-padding batch gives 0 rather than NaN.</summary>
        public static Tensor Count(Tensor mask32) => mask32.sum().clamp_min(1.0);
    }
}
