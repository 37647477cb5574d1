using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Linq;

namespace MoeLayers.Samples.Tests
{
    /// <summary>Builds IDX files byte by byte, including deliberately broken ones.</summary>
    internal static class IdxBytes
    {
        public static byte[] Images(int count, int rows, int cols, byte[] pixels) =>
            Build(0x00000803, new[] { count, rows, cols }, pixels);

        public static byte[] Labels(byte[] labels) => Build(0x00000801, new[] { labels.Length }, labels);

        public static byte[] Build(int magic, int[] dims, byte[] payload)
        {
            var bytes = new byte[4 + 4 * dims.Length + payload.Length];
            BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
            for (var i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
            payload.CopyTo(bytes, 4 + 4 * dims.Length);
            return bytes;
        }

        public static byte[] Gzip(byte[] raw)
        {
            using var memory = new MemoryStream();
            using (var gzip = new GZipStream(memory, CompressionLevel.Fastest)) gzip.Write(raw);
            return memory.ToArray();
        }

        public static byte[] Sequence(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
    }
}
