using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Weight-only int8 quantization with one float32 scale per output channel: for stacked weights W [E, in, out]
    /// (stored [in, out], so output channel c of expert e is the column W[e, :, c]), s[e, c] = max_i |W[e, i, c]| / 127
    /// and q[e, i, c] = round(W[e, i, c] / s[e, c]) (half to even) in [−127, 127]; a column of zeros gets s = 0 and
    /// q = 0. Dequantized, W ≈ q·s with |W − q·s| ≤ s/2 per element.
    /// </summary>
    internal static class Int8Quantization
    {
        /// <summary>The quantized values [E, in, out] (int8) and scales [E, out] (float32) of <paramref name="weight"/>.</summary>
        /// <param name="weight">Stacked weights [E, in, out], any floating dtype.</param>
        public static (Tensor Values, Tensor Scales) Quantize(Tensor weight)
        {
            Guard.Floating(weight, nameof(weight));
            if (weight.dim() != 3) throw new System.ArgumentException($"weight must have shape [E, in, out]; got {Guard.Shape(weight)}.", nameof(weight));
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var w = weight.detach().to(ScalarType.Float32);
            var scales = w.abs().amax(new long[] { 1 }) / 127;
            var divisor = where(scales > 0, scales, ones_like(scales)).unsqueeze(1);
            var values = (w / divisor).round().clamp(-127, 127).to(ScalarType.Int8);
            return (values.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope());
        }

        /// <summary>q·s as <paramref name="dtype"/>: values [E, in, out] int8 and scales [E, out] → [E, in, out].</summary>
        /// <param name="values">Quantized values.</param>
        /// <param name="scales">Per-output-channel scales.</param>
        /// <param name="dtype">The result's dtype.</param>
        public static Tensor Dequantize(Tensor values, Tensor scales, ScalarType dtype) =>
            (values.to(ScalarType.Float32) * scales.to(ScalarType.Float32).unsqueeze(1)).to(dtype);
    }
}
