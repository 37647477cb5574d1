using System;

namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>A stack of unsigned-byte images read from an IDX file, row-major, image after image.</summary>
    public sealed class IdxImages
    {
        /// <summary>Wraps <paramref name="pixels"/> without copying.</summary>
        /// <param name="count">Number of images.</param>
        /// <param name="rows">Rows per image.</param>
        /// <param name="cols">Columns per image.</param>
        /// <param name="pixels">Exactly <c>count × rows × cols</c> bytes.</param>
        /// <exception cref="ArgumentException">The pixel array does not match the dimensions.</exception>
        public IdxImages(int count, int rows, int cols, byte[] pixels)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            ArgumentOutOfRangeException.ThrowIfNegative(rows);
            ArgumentOutOfRangeException.ThrowIfNegative(cols);
            ArgumentNullException.ThrowIfNull(pixels);
            if ((long)count * rows * cols != pixels.LongLength)
            {
                throw new ArgumentException(
                    $"{count} × {rows} × {cols} images need {(long)count * rows * cols} bytes, got {pixels.LongLength}.",
                    nameof(pixels));
            }
            Count = count;
            Rows = rows;
            Cols = cols;
            Pixels = pixels;
        }

        /// <summary>Number of images.</summary>
        public int Count { get; }

        /// <summary>Rows per image.</summary>
        public int Rows { get; }

        /// <summary>Columns per image.</summary>
        public int Cols { get; }

        /// <summary>Bytes per image, <c>Rows × Cols</c>.</summary>
        public int PixelsPerImage => Rows * Cols;

        /// <summary>All pixels, <c>Count × Rows × Cols</c> bytes (0 = background, 255 = ink for MNIST).</summary>
        public byte[] Pixels { get; }

        /// <summary>The pixels of one image.</summary>
        /// <param name="index">Zero-based image index.</param>
        /// <returns>A view of <c>Rows × Cols</c> bytes into <see cref="Pixels"/>.</returns>
        public ReadOnlySpan<byte> Image(int index)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
        }
    }
}
