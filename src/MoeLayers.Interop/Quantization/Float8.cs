using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Exact decoding of the float8 formats safetensors stores (F8_E4M3, F8_E5M2, F8_E8M0), whose codes
    /// <see cref="SafetensorsFile.ReadFloat8Codes"/> returns as uint8: each code's value is computed from its bits
    /// (sign, exponent, mantissa). Every E4M3 and E5M2 value is exactly representable in float32, bfloat16 and float16,
    /// and every E8M0 value in float32, so decoding involves no rounding.
    /// </summary>
    public static class Float8
    {
        /// <summary>Elements decoded per step, so the int32 indices of one step stay small (16 MiB).</summary>
        internal const long ChunkElements = 1L << 22;

        /// <summary>
        /// The value of an e4m3fn code (torch.float8_e4m3fn, the OCP FP8 E4M3): bit 7 sign, bits 6..3 exponent with bias 7,
        /// bits 2..0 mantissa; exponent 0 is subnormal (m/8 · 2^-6), 0x7F and 0xFF are NaN, there is no infinity, and the
        /// largest magnitude is 448 (0x7E).
        /// </summary>
        /// <param name="code">The stored byte.</param>
        public static float E4M3Value(byte code)
        {
            var negative = (code & 0x80) != 0;
            var exponent = (code >> 3) & 0xF;
            var mantissa = code & 0x7;
            if (exponent == 0xF && mantissa == 0x7) return float.NaN;
            var magnitude = exponent == 0
                ? Math.ScaleB(mantissa, -9)                  // m/8 · 2^(1-7)
                : Math.ScaleB(8 + mantissa, exponent - 10);  // (1 + m/8) · 2^(e-7)
            return (float)(negative ? -magnitude : magnitude);
        }

        /// <summary>
        /// The value of an e5m2 code (torch.float8_e5m2, the upper byte of an IEEE binary16): bit 7 sign, bits 6..2
        /// exponent with bias 15, bits 1..0 mantissa; exponent 0 is subnormal (m/4 · 2^-14), exponent 31 is infinity
        /// (mantissa 0) or NaN.
        /// </summary>
        /// <param name="code">The stored byte.</param>
        public static float E5M2Value(byte code)
        {
            var negative = (code & 0x80) != 0;
            var exponent = (code >> 2) & 0x1F;
            var mantissa = code & 0x3;
            double magnitude;
            if (exponent == 0x1F)
            {
                if (mantissa != 0) return float.NaN;
                magnitude = double.PositiveInfinity;
            }
            else
            {
                magnitude = exponent == 0
                    ? Math.ScaleB(mantissa, -16)                 // m/4 · 2^(1-15)
                    : Math.ScaleB(4 + mantissa, exponent - 17);  // (1 + m/4) · 2^(e-15)
            }

            return (float)(negative ? -magnitude : magnitude);
        }

        /// <summary>
        /// The value of an e8m0 code (torch.float8_e8m0fnu, the OCP microscaling scale, as MXFP4 stores it): 2^(code - 127),
        /// from 2^-127 (a float32 subnormal) to 2^127; 0xFF is NaN.
        /// </summary>
        /// <param name="code">The stored byte.</param>
        public static float E8M0Value(byte code) => code == 0xFF ? float.NaN : (float)Math.ScaleB(1.0, code - 127);

        /// <summary>
        /// Decodes e4m3fn codes (a uint8 tensor, as <see cref="SafetensorsFile.ReadFloat8Codes"/> reads F8_E4M3) into a new
        /// tensor of the same shape and device, exactly, through a 256-entry table of <see cref="E4M3Value"/>.
        /// </summary>
        /// <param name="codes">uint8 (<c>Byte</c>) codes of any shape.</param>
        /// <param name="dtype">Float32, BFloat16 or Float16 (each holds every e4m3fn value exactly).</param>
        /// <exception cref="ArgumentException">The codes are not uint8, or <paramref name="dtype"/> is not one of the three.</exception>
        public static Tensor DecodeE4M3(Tensor codes, ScalarType dtype = ScalarType.Float32)
            => Decode(codes, dtype, E4M3Value, "F8_E4M3");

        /// <summary>
        /// Decodes e5m2 codes (a uint8 tensor, as <see cref="SafetensorsFile.ReadFloat8Codes"/> reads F8_E5M2) into a new
        /// tensor of the same shape and device, exactly, through a 256-entry table of <see cref="E5M2Value"/>.
        /// </summary>
        /// <param name="codes">uint8 (<c>Byte</c>) codes of any shape.</param>
        /// <param name="dtype">Float32, BFloat16 or Float16 (each holds every e5m2 value exactly).</param>
        /// <exception cref="ArgumentException">The codes are not uint8, or <paramref name="dtype"/> is not one of the three.</exception>
        public static Tensor DecodeE5M2(Tensor codes, ScalarType dtype = ScalarType.Float32)
            => Decode(codes, dtype, E5M2Value, "F8_E5M2");

        /// <summary>The 256 values of a format as a float32 tensor on <paramref name="device"/>, indexed by code.</summary>
        internal static Tensor Table(Func<byte, float> value, Device device)
        {
            var values = Enumerable.Range(0, 256).Select(c => value((byte)c)).ToArray();
            using var onCpu = tensor(values, ScalarType.Float32);
            return onCpu.to(device);
        }

        /// <summary>Checks a requested output dtype: float32, bfloat16 or float16.</summary>
        internal static void CheckOutputDType(ScalarType dtype, string parameterName)
        {
            if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                throw new ArgumentException($"the output dtype must be Float32, BFloat16 or Float16, not {dtype}.", parameterName);
        }

        /// <summary>Checks that a tensor holds uint8 codes (the form float8 and MXFP4 data are read in).</summary>
        internal static void CheckCodes(Tensor codes, string parameterName, string what)
        {
            ArgumentNullException.ThrowIfNull(codes, parameterName);
            if (codes.IsInvalid)
                throw new ArgumentException($"'{parameterName}' ({what}) was disposed.", parameterName);
            if (codes.dtype != ScalarType.Byte)
                throw new ArgumentException(
                    $"'{parameterName}' ({what}) must be uint8 (Byte) codes, as SafetensorsFile.ReadFloat8Codes and Read give them; it is {codes.dtype} {FormatShape(codes.shape)}.",
                    parameterName);
        }

        /// <summary>Whether two tensors are on one device (type and index; TorchSharp's Device compares by reference).</summary>
        internal static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;

        internal static string FormatShape(long[] shape) => SafetensorsTensorInfo.FormatShape(shape);

        private static Tensor Decode(Tensor codes, ScalarType dtype, Func<byte, float> value, string format)
        {
            CheckCodes(codes, nameof(codes), format + " codes");
            CheckOutputDType(dtype, nameof(dtype));
            TorchSharpNative.EnsureAvailable();
            using var scope = NewDisposeScope();
            var table = Table(value, codes.device).to(dtype);
            var flat = codes.reshape(-1);
            var output = empty(codes.shape, dtype, codes.device);
            var outputFlat = output.view(-1);
            for (long begin = 0; begin < flat.shape[0]; begin += ChunkElements)
            {
                using var step = NewDisposeScope();
                var length = Math.Min(ChunkElements, flat.shape[0] - begin);
                var indices = flat.narrow(0, begin, length).to(ScalarType.Int32);
                outputFlat.narrow(0, begin, length).copy_(table.index_select(0, indices));
            }

            return output.MoveToOuterDisposeScope();
        }
    }
}
