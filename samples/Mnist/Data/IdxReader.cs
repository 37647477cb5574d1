using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>
    /// Reads unsigned-byte IDX files (the MNIST format), raw or gzip-compressed, and rejects any file whose header and
    /// payload disagree.
    /// </summary>
    /// <remarks>
    /// An IDX file is a big-endian header — two zero bytes, a data-type byte, a rank byte, then one 32-bit size per
    /// dimension — followed by exactly the product of the sizes in elements. Gzip is recognised by its magic bytes
    /// (1f 8b), not by the file name.
    /// </remarks>
    public static class IdxReader
    {
        /// <summary>Magic number of an unsigned-byte vector: labels.</summary>
        public const int LabelsMagic = 0x00000801;

        /// <summary>Magic number of an unsigned-byte rank-3 array: images.</summary>
        public const int ImagesMagic = 0x00000803;

        /// <summary>The IDX data-type code of unsigned bytes, the only type this reader accepts.</summary>
        public const byte UnsignedByteType = 0x08;

        private const byte GzipMagic0 = 0x1f;
        private const byte GzipMagic1 = 0x8b;

        /// <summary>Reads an image file (magic 0x00000803).</summary>
        /// <param name="path">An IDX file, raw or gzip-compressed.</param>
        /// <returns>The images.</returns>
        /// <exception cref="InvalidDataException">The file is not a well-formed unsigned-byte rank-3 IDX file.</exception>
        public static IdxImages ReadImages(string path)
        {
            using var stream = OpenRead(path);
            return ReadImages(stream, path);
        }

        /// <summary>Reads an image file (magic 0x00000803) from a stream, which is read to its end.</summary>
        /// <param name="stream">IDX bytes, raw or gzip-compressed.</param>
        /// <param name="sourceName">How error messages name the source, usually its path.</param>
        /// <returns>The images.</returns>
        /// <exception cref="InvalidDataException">The bytes are not a well-formed unsigned-byte rank-3 IDX file.</exception>
        public static IdxImages ReadImages(Stream stream, string sourceName)
        {
            var (dims, payload) = Read(stream, sourceName, ImagesMagic, "images");
            return new IdxImages(dims[0], dims[1], dims[2], payload);
        }

        /// <summary>Reads a label file (magic 0x00000801).</summary>
        /// <param name="path">An IDX file, raw or gzip-compressed.</param>
        /// <returns>One byte per label.</returns>
        /// <exception cref="InvalidDataException">The file is not a well-formed unsigned-byte rank-1 IDX file.</exception>
        public static byte[] ReadLabels(string path)
        {
            using var stream = OpenRead(path);
            return ReadLabels(stream, path);
        }

        /// <summary>Reads a label file (magic 0x00000801) from a stream, which is read to its end.</summary>
        /// <param name="stream">IDX bytes, raw or gzip-compressed.</param>
        /// <param name="sourceName">How error messages name the source, usually its path.</param>
        /// <returns>One byte per label.</returns>
        /// <exception cref="InvalidDataException">The bytes are not a well-formed unsigned-byte rank-1 IDX file.</exception>
        public static byte[] ReadLabels(Stream stream, string sourceName) =>
            Read(stream, sourceName, LabelsMagic, "labels").Payload;

        /// <summary>Throws unless there is exactly one label per image.</summary>
        /// <param name="images">The images.</param>
        /// <param name="labels">The labels.</param>
        /// <param name="imagesSource">How the message names the image file.</param>
        /// <param name="labelsSource">How the message names the label file.</param>
        /// <exception cref="InvalidDataException">The counts differ.</exception>
        public static void EnsureSameCount(IdxImages images, byte[] labels, string imagesSource, string labelsSource)
        {
            ArgumentNullException.ThrowIfNull(images);
            ArgumentNullException.ThrowIfNull(labels);
            if (images.Count != labels.Length)
            {
                throw new InvalidDataException(
                    $"Image/label count mismatch: '{imagesSource}' holds {images.Count} images " +
                    $"but '{labelsSource}' holds {labels.Length} labels.");
            }
        }

        private static FileStream OpenRead(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }

        private static (int[] Dims, byte[] Payload) Read(Stream stream, string sourceName, int expectedMagic, string what)
        {
            ArgumentNullException.ThrowIfNull(stream);
            ArgumentNullException.ThrowIfNull(sourceName);

            using var owned = stream.CanSeek ? null : CopyToMemory(stream);
            var source = owned ?? stream;
            var start = source.Position;
            var first = new byte[2];
            var sniffed = ReadUpTo(source, first, sourceName);
            source.Position = start;
            if (sniffed < 2 || first[0] != GzipMagic0 || first[1] != GzipMagic1)
            {
                return ReadIdx(source, sourceName, expectedMagic, what);
            }
            using var gzip = new GZipStream(source, CompressionMode.Decompress, leaveOpen: true);
            return ReadIdx(gzip, sourceName, expectedMagic, what);
        }

        private static MemoryStream CopyToMemory(Stream stream)
        {
            var memory = new MemoryStream();
            stream.CopyTo(memory);
            memory.Position = 0;
            return memory;
        }

        private static (int[] Dims, byte[] Payload) ReadIdx(Stream stream, string name, int expectedMagic, string what)
        {
            var expectedRank = expectedMagic & 0xff;
            var magicBytes = new byte[4];
            var got = ReadUpTo(stream, magicBytes, name);
            if (got < 4)
            {
                throw Invalid(name, $"is truncated: expected a 4-byte IDX magic number, found {got} bytes");
            }
            var magic = BinaryPrimitives.ReadInt32BigEndian(magicBytes);
            if (magicBytes[0] != 0 || magicBytes[1] != 0)
            {
                throw Invalid(name, $"has bad magic number 0x{magic:X8}; IDX {what} files start with 0x{expectedMagic:X8}");
            }
            if (magicBytes[2] != UnsignedByteType)
            {
                throw Invalid(name,
                    $"has wrong data type 0x{magicBytes[2]:X2} (magic 0x{magic:X8}); only unsigned bytes (0x{UnsignedByteType:X2}) are supported");
            }
            if (magicBytes[3] != expectedRank)
            {
                throw Invalid(name,
                    $"has wrong rank {magicBytes[3]} (magic 0x{magic:X8}); IDX {what} files have rank {expectedRank} (magic 0x{expectedMagic:X8})");
            }

            var sizeBytes = new byte[4 * expectedRank];
            got = ReadUpTo(stream, sizeBytes, name);
            if (got < sizeBytes.Length)
            {
                throw Invalid(name, $"is truncated in its header: expected {sizeBytes.Length} bytes of dimensions, found {got}");
            }
            var dims = new int[expectedRank];
            long expectedLength = 1;
            for (var i = 0; i < expectedRank; i++)
            {
                var size = BinaryPrimitives.ReadUInt32BigEndian(sizeBytes.AsSpan(4 * i));
                expectedLength *= size;
                if (size > int.MaxValue || expectedLength > Array.MaxLength)
                {
                    throw Invalid(name, $"declares dimensions too large to load (dimension {i} is {size})");
                }
                dims[i] = (int)size;
            }

            var payload = new byte[expectedLength];
            got = ReadUpTo(stream, payload, name);
            if (got < payload.Length)
            {
                throw Invalid(name,
                    $"is truncated: the header ({string.Join(" × ", dims)}) promises {expectedLength} payload bytes, but only {got} are present");
            }
            var trailing = CountRemaining(stream, name);
            if (trailing > 0)
            {
                throw Invalid(name,
                    $"has {trailing} bytes of trailing data after the {expectedLength}-byte payload its header ({string.Join(" × ", dims)}) describes");
            }
            return (dims, payload);
        }

        private static InvalidDataException Invalid(string name, string problem) => new($"IDX file '{name}' {problem}.");

        private static int ReadUpTo(Stream stream, Span<byte> buffer, string name)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var n = ReadChunk(stream, buffer[total..], name);
                if (n == 0) break;
                total += n;
            }
            return total;
        }

        private static long CountRemaining(Stream stream, string name)
        {
            Span<byte> scratch = stackalloc byte[4096];
            long total = 0;
            int n;
            while ((n = ReadChunk(stream, scratch, name)) > 0) total += n;
            return total;
        }

        private static int ReadChunk(Stream stream, Span<byte> buffer, string name)
        {
            try
            {
                return stream.Read(buffer);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"IDX file '{name}' starts like gzip but does not decompress: {e.Message}", e);
            }
        }
    }
}
