using System;
using System.Buffers.Binary;
using System.Linq;
using System.Text;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Support
{
    internal static class Bytes
    {
        /// <summary>A hand-built safetensors file: 8-byte little-endian length of <paramref name="headerJson"/>, the header, the data.</summary>
        public static byte[] File(string headerJson, byte[] data, ulong? declaredLength = null)
        {
            var header = Encoding.UTF8.GetBytes(headerJson);
            return File(header, data, declaredLength);
        }

        public static byte[] File(byte[] header, byte[] data, ulong? declaredLength = null)
        {
            var result = new byte[8 + header.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(result, declaredLength ?? (ulong)header.Length);
            header.CopyTo(result, 8);
            data.CopyTo(result, 8 + header.Length);
            return result;
        }

        public static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

        /// <summary>The tensor's raw bytes (contiguous CPU copy), for bit-exact comparisons.</summary>
        public static byte[] Of(Tensor t)
        {
            using var c = t.detach().cpu().contiguous();
            return c.numel() == 0 ? Array.Empty<byte>() : c.bytes.ToArray();
        }

        public static string Header(string path)
        {
            var raw = System.IO.File.ReadAllBytes(path);
            var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(raw);
            return Encoding.UTF8.GetString(raw, 8, n);
        }
    }
}
