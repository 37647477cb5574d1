using System;
using TorchSharp;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The tensor element types MoeLayers.Interop reads, named as in the safetensors header (the float8 names without
    /// the underscore: <c>"F8_E4M3"</c> is <see cref="F8E4M3"/>). Files holding any of them can be opened and read;
    /// <see cref="SafetensorsWriter"/> writes F32, F16 and BF16 only. The format's other dtypes (U16, U32, U64, F6_*, F4,
    /// C64) are refused by name.
    /// </summary>
    /// <remarks>
    /// TorchSharp 0.107 has no float8 scalar type, so <see cref="F8E4M3"/>, <see cref="F8E5M2"/> and
    /// <see cref="F8E8M0"/> tensors are not read by <see cref="SafetensorsFile.Read"/> (which refuses them by name) but by
    /// <see cref="SafetensorsFile.ReadFloat8Codes"/>: a <c>Byte</c> (uint8) tensor of the stored shape, one code per
    /// element, which <see cref="Float8"/>, <see cref="Fp8BlockDequantization"/> and <see cref="Mxfp4Dequantization"/>
    /// decode. A code tensor is never mistaken for values that way: <c>to(Float32)</c> on it would give 0..255.
    /// </remarks>
    public enum SafetensorsDType
    {
        /// <summary>IEEE 754 binary32 (torch.float32), 4 bytes.</summary>
        F32 = 0,

        /// <summary>IEEE 754 binary16 (torch.float16), 2 bytes.</summary>
        F16 = 1,

        /// <summary>bfloat16 (torch.bfloat16), 2 bytes: the upper half of a float32.</summary>
        BF16 = 2,

        /// <summary>IEEE 754 binary64 (torch.float64), 8 bytes.</summary>
        F64 = 3,

        /// <summary>Signed 64-bit integer (torch.int64), 8 bytes.</summary>
        I64 = 4,

        /// <summary>Signed 32-bit integer (torch.int32), 4 bytes.</summary>
        I32 = 5,

        /// <summary>Signed 16-bit integer (torch.int16), 2 bytes.</summary>
        I16 = 6,

        /// <summary>Signed 8-bit integer (torch.int8), 1 byte.</summary>
        I8 = 7,

        /// <summary>Unsigned 8-bit integer (torch.uint8), 1 byte; MXFP4 blocks and scales are stored so.</summary>
        U8 = 8,

        /// <summary>Boolean (torch.bool), 1 byte.</summary>
        BOOL = 9,

        /// <summary>
        /// float8 e4m3fn ("F8_E4M3", torch.float8_e4m3fn), 1 byte: 1 sign, 4 exponent (bias 7) and 3 mantissa bits, no
        /// infinities, 0x7F and 0xFF are NaN. Read as raw bytes (uint8).
        /// </summary>
        F8E4M3 = 10,

        /// <summary>
        /// float8 e5m2 ("F8_E5M2", torch.float8_e5m2), 1 byte: 1 sign, 5 exponent (bias 15) and 2 mantissa bits, with
        /// infinities and NaNs as in IEEE 754. Read as raw bytes (uint8).
        /// </summary>
        F8E5M2 = 11,

        /// <summary>
        /// float8 e8m0 ("F8_E8M0", torch.float8_e8m0fnu), 1 byte: an unsigned power of two 2^(code - 127), 0xFF is NaN (the
        /// OCP microscaling scale format). Read as raw bytes (uint8).
        /// </summary>
        F8E8M0 = 12,
    }

    /// <summary>Conversions between <see cref="SafetensorsDType"/>, its header name and TorchSharp's scalar type.</summary>
    public static class SafetensorsDTypes
    {
        /// <summary>Every dtype name the safetensors format defines; names outside this list are unknown, not just unsupported.</summary>
        internal static readonly string[] FormatNames =
        {
            "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
            "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
        };

        /// <summary>The dtypes this library reads, as a sentence fragment for messages.</summary>
        internal const string ReadableNames = "F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2 and F8_E8M0";

        /// <summary>The dtypes this library writes, as a sentence fragment for messages.</summary>
        internal const string WritableNames = "Float32 (F32), Float16 (F16) and BFloat16 (BF16)";

        /// <summary>The dtype's name in a safetensors header ("F32", "BF16", "F8_E4M3", ...).</summary>
        /// <param name="dtype">The dtype.</param>
        public static string HeaderName(this SafetensorsDType dtype) => dtype switch
        {
            SafetensorsDType.F32 => "F32",
            SafetensorsDType.F16 => "F16",
            SafetensorsDType.BF16 => "BF16",
            SafetensorsDType.F64 => "F64",
            SafetensorsDType.I64 => "I64",
            SafetensorsDType.I32 => "I32",
            SafetensorsDType.I16 => "I16",
            SafetensorsDType.I8 => "I8",
            SafetensorsDType.U8 => "U8",
            SafetensorsDType.BOOL => "BOOL",
            SafetensorsDType.F8E4M3 => "F8_E4M3",
            SafetensorsDType.F8E5M2 => "F8_E5M2",
            SafetensorsDType.F8E8M0 => "F8_E8M0",
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
        };

        /// <summary>Bytes per element: 8 for F64 and I64, 4 for F32 and I32, 2 for F16, BF16 and I16, 1 for the others.</summary>
        /// <param name="dtype">The dtype.</param>
        public static int ElementSize(this SafetensorsDType dtype) => dtype switch
        {
            SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
            SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
            SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
            SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL
                or SafetensorsDType.F8E4M3 or SafetensorsDType.F8E5M2 or SafetensorsDType.F8E8M0 => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
        };

        /// <summary>
        /// Whether <paramref name="dtype"/> is a float8 dtype (F8_E4M3, F8_E5M2, F8_E8M0), which TorchSharp has no scalar
        /// type for: such tensors are read as their codes with <see cref="SafetensorsFile.ReadFloat8Codes"/>, not with
        /// <see cref="SafetensorsFile.Read"/>.
        /// </summary>
        /// <param name="dtype">The dtype.</param>
        public static bool IsFloat8(this SafetensorsDType dtype)
            => dtype is SafetensorsDType.F8E4M3 or SafetensorsDType.F8E5M2 or SafetensorsDType.F8E8M0;

        /// <summary>
        /// The TorchSharp scalar type a read tensor has: the matching type, or <c>Byte</c> for the float8 dtypes, whose
        /// codes <see cref="SafetensorsFile.ReadFloat8Codes"/> returns as uint8 (see <see cref="IsFloat8"/>).
        /// </summary>
        /// <param name="dtype">The dtype.</param>
        public static torch.ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
        {
            SafetensorsDType.F32 => torch.ScalarType.Float32,
            SafetensorsDType.F16 => torch.ScalarType.Float16,
            SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
            SafetensorsDType.F64 => torch.ScalarType.Float64,
            SafetensorsDType.I64 => torch.ScalarType.Int64,
            SafetensorsDType.I32 => torch.ScalarType.Int32,
            SafetensorsDType.I16 => torch.ScalarType.Int16,
            SafetensorsDType.I8 => torch.ScalarType.Int8,
            SafetensorsDType.U8 => torch.ScalarType.Byte,
            SafetensorsDType.BOOL => torch.ScalarType.Bool,
            SafetensorsDType.F8E4M3 or SafetensorsDType.F8E5M2 or SafetensorsDType.F8E8M0 => torch.ScalarType.Byte,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
        };

        /// <summary>
        /// The safetensors dtype <see cref="SafetensorsWriter"/> writes a TorchSharp scalar type as, or false for types
        /// this library does not write (it writes Float32, Float16 and BFloat16 only).
        /// </summary>
        /// <param name="type">A TorchSharp scalar type.</param>
        /// <param name="dtype">The safetensors dtype when the result is true.</param>
        public static bool TryFromScalarType(torch.ScalarType type, out SafetensorsDType dtype)
        {
            switch (type)
            {
                case torch.ScalarType.Float32: dtype = SafetensorsDType.F32; return true;
                case torch.ScalarType.Float16: dtype = SafetensorsDType.F16; return true;
                case torch.ScalarType.BFloat16: dtype = SafetensorsDType.BF16; return true;
                default: dtype = default; return false;
            }
        }

        /// <summary>Whether <see cref="SafetensorsWriter"/> writes <paramref name="dtype"/> (F32, F16 and BF16).</summary>
        /// <param name="dtype">The dtype.</param>
        public static bool IsWritable(this SafetensorsDType dtype)
            => dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16;

        /// <summary>Parses a header dtype name; false for names that are unknown or not among those this library reads.</summary>
        /// <param name="name">The header's dtype string, e.g. "BF16" or "F8_E4M3".</param>
        /// <param name="dtype">The parsed dtype when the result is true.</param>
        public static bool TryParse(string name, out SafetensorsDType dtype)
        {
            switch (name)
            {
                case "F32": dtype = SafetensorsDType.F32; return true;
                case "F16": dtype = SafetensorsDType.F16; return true;
                case "BF16": dtype = SafetensorsDType.BF16; return true;
                case "F64": dtype = SafetensorsDType.F64; return true;
                case "I64": dtype = SafetensorsDType.I64; return true;
                case "I32": dtype = SafetensorsDType.I32; return true;
                case "I16": dtype = SafetensorsDType.I16; return true;
                case "I8": dtype = SafetensorsDType.I8; return true;
                case "U8": dtype = SafetensorsDType.U8; return true;
                case "BOOL": dtype = SafetensorsDType.BOOL; return true;
                case "F8_E4M3": dtype = SafetensorsDType.F8E4M3; return true;
                case "F8_E5M2": dtype = SafetensorsDType.F8E5M2; return true;
                case "F8_E8M0": dtype = SafetensorsDType.F8E8M0; return true;
                default: dtype = default; return false;
            }
        }

        /// <summary>
        /// Order of tensors in the data section, as the reference writer sorts them: larger-alignment dtypes first
        /// (F32, then BF16, then F16), so every tensor starts at a multiple of its element size.
        /// </summary>
        internal static int WriteRank(this SafetensorsDType dtype) => dtype switch
        {
            SafetensorsDType.F32 => 0,
            SafetensorsDType.BF16 => 1,
            SafetensorsDType.F16 => 2,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"MoeLayers.Interop writes {WritableNames} only"),
        };
    }
}
