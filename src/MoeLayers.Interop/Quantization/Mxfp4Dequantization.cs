using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Dequantizes MXFP4 tensors, the format of gpt-oss's experts: <c>&lt;name&gt;_blocks</c> uint8 [..., G, 16] (32 FP4
    /// e2m1 values per group, two per byte, the low nibble first) and <c>&lt;name&gt;_scales</c> uint8 [..., G] (one e8m0
    /// power of two 2^(s - 127) per group of 32). The result is [..., G · 32]: element 32g + 2b is
    /// <c>fp4(blocks[g, b] &amp; 0xF) · 2^(scales[g] - 127)</c> and element 32g + 2b + 1 uses the high nibble.
    /// </summary>
    /// <remarks>
    /// Transcribed from transformers <c>src/transformers/integrations/mxfp4.py</c>, <c>convert_moe_packed_tensors</c>
    /// and <c>FP4_VALUES</c>, at github.com/huggingface/transformers commit 0189b1d09a03a87ec4f59831acb93cc1832d14e7:
    /// there the nibble's value times <c>ldexp(…, s - 127)</c> is computed in float32 (<c>torch.ldexp</c> multiplies by
    /// <c>pow(2.0, exp)</c>) and stored in the output dtype (bfloat16 by default); here likewise, exactly (an FP4 value
    /// times a power of two), except that values beyond float32's range become ±∞ as there. Scale code 255 (NaN in e8m0)
    /// is refused rather than producing ∞/NaN weights.
    /// <para>
    /// This returns the packed layout's own order. transformers then transposes dimensions 1 and 2
    /// (<c>out.transpose(1, 2).contiguous()</c>): gpt-oss's <c>mlp.experts.gate_up_proj_blocks</c> [E, 2I, H/32, 16]
    /// decodes here to [E, 2I, H] and becomes the model's <c>gate_up_proj</c> [E, H, 2I] (input × output; gate and up
    /// interleaved along the last dimension: gate = [..., 0::2], up = [..., 1::2]); <c>down_proj_blocks</c>
    /// [E, H, I/32, 16] decodes to [E, H, I] and becomes <c>down_proj</c> [E, I, H].
    /// </para>
    /// </remarks>
    public static class Mxfp4Dequantization
    {
        /// <summary>Bytes per group in <c>_blocks</c>: 16, two FP4 values each.</summary>
        public const int BytesPerGroup = 16;

        /// <summary>Values per group, sharing one scale: 32.</summary>
        public const int ValuesPerGroup = 32;

        /// <summary>The e2m1 code → value table of transformers' <c>FP4_VALUES</c> (index = the 4-bit code).</summary>
        private static readonly float[] Fp4Values =
        {
            +0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
            -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f,
        };

        /// <summary>The value of an FP4 e2m1 code (0..15): bit 3 sign, bits 2..1 exponent with bias 1, bit 0 mantissa.</summary>
        /// <param name="code">A nibble, 0 to 15.</param>
        /// <exception cref="ArgumentOutOfRangeException">The code is above 15.</exception>
        public static float Fp4Value(int code)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(code);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 15);
            return Fp4Values[code];
        }

        /// <summary>
        /// Dequantizes one MXFP4 tensor into a new tensor [..., G · 32] on the blocks' device, in chunks of groups so that
        /// the memory beyond the result stays a few chunks of at most about 4 M elements.
        /// </summary>
        /// <param name="blocks">uint8 [..., G, 16] (the <c>_blocks</c> tensor, U8 in the checkpoint).</param>
        /// <param name="scales">uint8 [..., G] (the <c>_scales</c> tensor: U8, or F8_E8M0 read with <see cref="SafetensorsFile.ReadFloat8Codes"/>), on the same device.</param>
        /// <param name="dtype">The result's dtype: Float32, BFloat16 (transformers' default) or Float16.</param>
        /// <exception cref="ArgumentException">
        /// A dtype, shape or device does not match what is described above, or a scale is 255 (NaN in e8m0); the message
        /// names the argument, the expected shape or the first such scale's position.
        /// </exception>
        public static Tensor Dequantize(Tensor blocks, Tensor scales, ScalarType dtype = ScalarType.Float32)
        {
            Float8.CheckCodes(blocks, nameof(blocks), "MXFP4 blocks");
            Float8.CheckCodes(scales, nameof(scales), "MXFP4 e8m0 scales");
            Float8.CheckOutputDType(dtype, nameof(dtype));
            var shape = blocks.shape;
            if (shape.Length < 2 || shape[^1] != BytesPerGroup)
                throw new ArgumentException(
                    $"'blocks' must be [..., G, {BytesPerGroup}] (16 bytes of two FP4 values per group of 32); it is {Float8.FormatShape(shape)}.", nameof(blocks));
            if (!scales.shape.SequenceEqual(shape[..^1]))
                throw new ArgumentException(
                    $"'scales' must be {Float8.FormatShape(shape[..^1])}, one e8m0 scale per group of blocks {Float8.FormatShape(shape)}; it is {Float8.FormatShape(scales.shape)}.",
                    nameof(scales));
            if (!Float8.SameDevice(scales, blocks))
                throw new ArgumentException($"'scales' is on {scales.device} but 'blocks' is on {blocks.device}; put both on one device.", nameof(scales));

            TorchSharpNative.EnsureAvailable();
            using var scope = NewDisposeScope();
            var groups = scales.numel();
            var flatScales = scales.reshape(groups);
            var nan = flatScales.eq(255).nonzero();
            if (nan.shape[0] > 0)
            {
                var first = nan[0, 0].item<long>();
                var position = Unravel(first, scales.shape);
                throw new ArgumentException(
                    $"'scales' holds code 255, which is NaN in e8m0 (not a power of two), at {Float8.FormatShape(position)} ({nan.shape[0]} such scales): the tensor is corrupt.",
                    nameof(scales));
            }

            var output = empty(shape[..^1].Select((d, i) => i == shape.Length - 2 ? d * ValuesPerGroup : d).ToArray(), dtype, blocks.device);
            if (groups == 0) return output.MoveToOuterDisposeScope();

            using var fp4OnCpu = tensor(Fp4Values, ScalarType.Float32);
            var fp4 = fp4OnCpu.to(blocks.device);
            var powersOfTwo = Float8.Table(Float8.E8M0Value, blocks.device);
            var packed = blocks.reshape(groups, BytesPerGroup);
            var result = output.view(groups, ValuesPerGroup);
            var groupsPerStep = Math.Max(1, Float8.ChunkElements / ValuesPerGroup);
            for (long first = 0; first < groups; first += groupsPerStep)
            {
                using var step = NewDisposeScope();
                var count = Math.Min(groupsPerStep, groups - first);
                var bytes = packed.narrow(0, first, count).to(ScalarType.Int32);
                var low = fp4.index_select(0, bytes.bitwise_and(0xF).reshape(-1)).view(count, BytesPerGroup);
                var high = fp4.index_select(0, bytes.bitwise_right_shift(4).reshape(-1)).view(count, BytesPerGroup);
                var values = stack(new[] { low, high }, dim: -1).view(count, ValuesPerGroup);
                var scale = powersOfTwo.index_select(0, flatScales.narrow(0, first, count).to(ScalarType.Int32)).unsqueeze(1);
                result.narrow(0, first, count).copy_(values.mul_(scale));
            }

            return output.MoveToOuterDisposeScope();
        }

        private static long[] Unravel(long index, long[] shape)
        {
            var position = new long[shape.Length];
            for (var d = shape.Length - 1; d >= 0; d--)
            {
                position[d] = index % shape[d];
                index /= shape[d];
            }

            return position;
        }
    }
}
