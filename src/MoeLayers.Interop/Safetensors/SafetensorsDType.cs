using System;
using TorchSharp;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The tensor element types MoeLayers.Interop reads and writes, named as in the safetensors header. The format knows
    /// more (F64, I64, U8, BOOL, F8_*...): those are refused by name, since MoE checkpoints store weights in these three.
    /// </summary>
    public enum SafetensorsDType
    {
        /// <summary>IEEE 754 binary32 (torch.float32), 4 bytes.</summary>
        F32,

        /// <summary>IEEE 754 binary16 (torch.float16), 2 bytes.</summary>
        F16,

        /// <summary>bfloat16 (torch.bfloat16), 2 bytes: the upper half of a float32.</summary>
        BF16,
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

        /// <summary>The dtype's name in a safetensors header ("F32", "F16", "BF16").</summary>
        /// <param name="dtype">The dtype.</param>
        public static string HeaderName(this SafetensorsDType dtype) => dtype switch
        {
            SafetensorsDType.F32 => "F32",
            SafetensorsDType.F16 => "F16",
            SafetensorsDType.BF16 => "BF16",
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
        };

        /// <summary>Bytes per element: 4 for F32, 2 for F16 and BF16.</summary>
        /// <param name="dtype">The dtype.</param>
        public static int ElementSize(this SafetensorsDType dtype) => dtype == SafetensorsDType.F32 ? 4 : 2;

        /// <summary>The matching TorchSharp scalar type.</summary>
        /// <param name="dtype">The dtype.</param>
        public static torch.ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
        {
            SafetensorsDType.F32 => torch.ScalarType.Float32,
            SafetensorsDType.F16 => torch.ScalarType.Float16,
            SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
        };

        /// <summary>The safetensors dtype of a TorchSharp scalar type, or false for types this library does not write.</summary>
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

        /// <summary>Parses a header dtype name; false for names that are unknown or not one of the three supported.</summary>
        /// <param name="name">The header's dtype string.</param>
        /// <param name="dtype">The parsed dtype when the result is true.</param>
        public static bool TryParse(string name, out SafetensorsDType dtype)
        {
            switch (name)
            {
                case "F32": dtype = SafetensorsDType.F32; return true;
                case "F16": dtype = SafetensorsDType.F16; return true;
                case "BF16": dtype = SafetensorsDType.BF16; return true;
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
            _ => 2,
        };
    }
}
