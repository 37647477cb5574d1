using System;
using MoeLayers.Internal;
using static TorchSharp.torch;

namespace MoeLayers.Losses
{
    /// <summary>Shared argument checks and masking for the auxiliary losses.</summary>
    internal static class LossInputs
    {
        /// <summary>Checks an optional token mask [T] and returns it as float32 (all ones when absent).</summary>
        public static Tensor Mask(Tensor? mask, long tokens, Device device)
        {
            if (mask is null) return ones(new[] { tokens }, ScalarType.Float32, device);
            Guard.HasShape(mask, nameof(mask), tokens);
            Guard.SameDevice(mask, device, nameof(mask));
            return mask.to(ScalarType.Float32);
        }

        public static void Matrix(Tensor t, string name)
        {
            if (t.dim() != 2) throw new ArgumentException($"{name} must have shape [T, E]; got {Guard.Shape(t)}.", name);
        }

        /// <summary>Sum of the mask, clamped at 1 so an all-padding batch gives 0 rather than NaN.</summary>
        public static Tensor Count(Tensor mask32) => mask32.sum().clamp_min(1.0);
    }
}
