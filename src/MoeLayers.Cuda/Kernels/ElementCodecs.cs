using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// How a kernel reads and writes one element of a row tensor: rows are stored as float32, bfloat16 or float16, and
    /// all arithmetic happens in float32 (each output element is rounded once, at the end).
    /// </summary>
    /// <typeparam name="TElement">The storage type: float for float32, the raw 16 bits for the half formats.</typeparam>
    internal interface IElementCodec<TElement>
        where TElement : unmanaged
    {
        /// <summary>Widens a stored element to float32 (exact for all three formats).</summary>
        float Load(TElement value);

        /// <summary>Rounds a float32 to the storage format, to nearest with ties to even, as torch's casts do.</summary>
        TElement Store(float value);
    }

    /// <summary>float32 rows: identity.</summary>
    internal readonly struct Float32Codec : IElementCodec<float>
    {
        public float Load(float value) => value;

        public float Store(float value) => value;
    }

    /// <summary>bfloat16 rows, kept as their upper 16 float32 bits.</summary>
    internal readonly struct BFloat16Codec : IElementCodec<ushort>
    {
        public float Load(ushort value) => Interop.IntAsFloat((uint)value << 16);

        public ushort Store(float value)
        {
            var bits = Interop.FloatAsInt(value);
            if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((bits >> 16) | 0x0040u); // NaN stays a quiet NaN
            var roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
            return (ushort)((bits + roundingBias) >> 16);
        }
    }

    /// <summary>IEEE float16 rows, converted bit by bit so the CPU accelerator and the GPU round identically.</summary>
    internal readonly struct Float16Codec : IElementCodec<ushort>
    {
        public float Load(ushort value)
        {
            uint h = value;
            var sign = (h & 0x8000u) << 16;
            var exponent = (h >> 10) & 0x1Fu;
            var mantissa = h & 0x3FFu;
            if (exponent == 0)
            {
                // Zero or subnormal: mantissa · 2⁻²⁴, exact in float32.
                var magnitude = mantissa * (1.0f / 16777216.0f);
                return sign != 0 ? -magnitude : magnitude;
            }
            if (exponent == 31) return Interop.IntAsFloat(sign | 0x7F800000u | (mantissa << 13));
            return Interop.IntAsFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
        }

        public ushort Store(float value)
        {
            var bits = Interop.FloatAsInt(value);
            var sign = (bits >> 16) & 0x8000u;
            var magnitude = bits & 0x7FFFFFFFu;
            if (magnitude >= 0x7F800000u) return (ushort)(sign | (magnitude > 0x7F800000u ? 0x7E00u : 0x7C00u));
            if (magnitude >= 0x477FF000u) return (ushort)(sign | 0x7C00u); // ≥ 65520 rounds to infinity
            if (magnitude < 0x38800000u)
            {
                // Below the smallest normal half (2⁻¹⁴): count units of 2⁻²⁴, round half to even. A result of 1024
                // is the bit pattern of the smallest normal, so the carry needs no special case.
                var scaled = Interop.IntAsFloat(magnitude) * 16777216.0f;
                var units = (uint)scaled;
                var fraction = scaled - units;
                if (fraction > 0.5f || (fraction == 0.5f && (units & 1u) != 0)) units++;
                return (ushort)(sign | units);
            }
            var half = ((((magnitude >> 23) - 112u) << 10) | ((magnitude & 0x7FFFFFu) >> 13));
            var rest = magnitude & 0x1FFFu;
            if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) != 0)) half++; // a carry into the exponent is correct
            return (ushort)(sign | half);
        }
    }
}
