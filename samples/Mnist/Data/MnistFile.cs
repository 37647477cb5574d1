using System;
using System.Collections.Generic;
using System.IO;

namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>One of the four canonical MNIST files: its name, checksum and expected contents.</summary>
    public sealed class MnistFile
    {
        private const string GzipExtension = ".gz";

        private MnistFile(string fileName, string md5, long length, MnistSplit split, bool isImages, int expectedCount)
        {
            FileName = fileName;
            Md5 = md5;
            Length = length;
            Split = split;
            IsImages = isImages;
            ExpectedCount = expectedCount;
        }

        /// <summary>The training images, 60,000 × 28 × 28.</summary>
        public static MnistFile TrainImages { get; } =
            new("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422, MnistSplit.Train, isImages: true, 60_000);

        /// <summary>The training labels, 60,000.</summary>
        public static MnistFile TrainLabels { get; } =
            new("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881, MnistSplit.Train, isImages: false, 60_000);

        /// <summary>The test images, 10,000 × 28 × 28.</summary>
        public static MnistFile TestImages { get; } =
            new("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877, MnistSplit.Test, isImages: true, 10_000);

        /// <summary>The test labels, 10,000.</summary>
        public static MnistFile TestLabels { get; } =
            new("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542, MnistSplit.Test, isImages: false, 10_000);

        /// <summary>All four files, training first.</summary>
        public static IReadOnlyList<MnistFile> All { get; } = new[] { TrainImages, TrainLabels, TestImages, TestLabels };

        /// <summary>The gzip-compressed file name used by every mirror, e.g. <c>train-images-idx3-ubyte.gz</c>.</summary>
        public string FileName { get; }

        /// <summary>The name the file has once decompressed, e.g. <c>train-images-idx3-ubyte</c>.</summary>
        public string UncompressedFileName => FileName[..^GzipExtension.Length];

        /// <summary>The md5 of the gzip-compressed file, lower-case hex.</summary>
        public string Md5 { get; }

        /// <summary>The size of the gzip-compressed file in bytes.</summary>
        public long Length { get; }

        /// <summary>The split the file belongs to.</summary>
        public MnistSplit Split { get; }

        /// <summary>True for an image file, false for a label file.</summary>
        public bool IsImages { get; }

        /// <summary>The number of images or labels the canonical file holds.</summary>
        public int ExpectedCount { get; }

        /// <summary>The image file of <paramref name="split"/>.</summary>
        /// <param name="split">Training or test.</param>
        /// <returns><see cref="TrainImages"/> or <see cref="TestImages"/>.</returns>
        public static MnistFile ImagesOf(MnistSplit split) => split switch
        {
            MnistSplit.Train => TrainImages,
            MnistSplit.Test => TestImages,
            _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown MNIST split."),
        };

        /// <summary>The label file of <paramref name="split"/>.</summary>
        /// <param name="split">Training or test.</param>
        /// <returns><see cref="TrainLabels"/> or <see cref="TestLabels"/>.</returns>
        public static MnistFile LabelsOf(MnistSplit split) => split switch
        {
            MnistSplit.Train => TrainLabels,
            MnistSplit.Test => TestLabels,
            _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown MNIST split."),
        };

        /// <summary>The files of <paramref name="files"/> that <paramref name="folder"/> holds under neither name.</summary>
        /// <param name="folder">The folder to look in; need not exist.</param>
        /// <param name="files">The files to look for; all four when null.</param>
        /// <returns>The missing files, in the order given.</returns>
        public static IReadOnlyList<MnistFile> FindMissing(string folder, IEnumerable<MnistFile>? files = null)
        {
            ArgumentNullException.ThrowIfNull(folder);
            var missing = new List<MnistFile>();
            foreach (var file in files ?? All)
            {
                if (file.Locate(folder) is null) missing.Add(file);
            }
            return missing;
        }

        /// <summary>
        /// The path of this file in <paramref name="folder"/>: the gzip name when present, else the uncompressed name,
        /// else null.
        /// </summary>
        /// <param name="folder">The folder to look in; need not exist.</param>
        /// <returns>The full path of the file found, or null.</returns>
        public string? Locate(string folder)
        {
            ArgumentNullException.ThrowIfNull(folder);
            foreach (var name in new[] { FileName, UncompressedFileName })
            {
                var path = Path.Combine(folder, name);
                if (File.Exists(path)) return Path.GetFullPath(path);
            }
            return null;
        }

        /// <inheritdoc />
        public override string ToString() => FileName;
    }
}
