using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>One MNIST split in memory: 28 × 28 grey-scale digits and their labels 0–9.</summary>
    public sealed class MnistDataset
    {
        /// <summary>Number of digit classes.</summary>
        public const int ClassCount = 10;

        /// <summary>Rows and columns of a canonical MNIST image.</summary>
        public const int ImageSide = 28;

        private MnistDataset(IdxImages images, byte[] labels)
        {
            Images = images;
            Labels = labels;
        }

        /// <summary>Where the sample's build puts the bundled files: <c>data</c> next to the executable.</summary>
        public static string DefaultFolder => Path.Combine(AppContext.BaseDirectory, "data");

        /// <summary>Number of examples.</summary>
        public int Count => Images.Count;

        /// <summary>Pixels per image, flattened (784 for MNIST).</summary>
        public int PixelsPerImage => Images.PixelsPerImage;

        /// <summary>The raw images, one byte per pixel.</summary>
        public IdxImages Images { get; }

        /// <summary>One label per image.</summary>
        public byte[] Labels { get; }

        /// <summary>Loads one split from the canonical file names in <paramref name="folder"/>.</summary>
        /// <param name="folder">Holds the split's two files, gzip-compressed or not.</param>
        /// <param name="split">Training or test.</param>
        /// <returns>The split, checked against the canonical counts, image size and label range.</returns>
        /// <exception cref="FileNotFoundException">A file of the split is missing; the message names them all.</exception>
        /// <exception cref="InvalidDataException">A file is malformed or not the canonical MNIST file.</exception>
        public static MnistDataset Load(string folder, MnistSplit split)
        {
            var images = MnistFile.ImagesOf(split);
            var labels = MnistFile.LabelsOf(split);
            EnsurePresent(folder, new[] { images, labels });
            return LoadCanonical(folder, images, labels);
        }

        /// <summary>Loads both splits from the canonical file names in <paramref name="folder"/>.</summary>
        /// <param name="folder">Holds the four files, gzip-compressed or not.</param>
        /// <returns>The training and the test split.</returns>
        /// <exception cref="FileNotFoundException">Any of the four files is missing; the message names them all.</exception>
        /// <exception cref="InvalidDataException">A file is malformed or not the canonical MNIST file.</exception>
        public static (MnistDataset Train, MnistDataset Test) LoadTrainAndTest(string folder)
        {
            EnsurePresent(folder, MnistFile.All);
            return (LoadCanonical(folder, MnistFile.TrainImages, MnistFile.TrainLabels),
                    LoadCanonical(folder, MnistFile.TestImages, MnistFile.TestLabels));
        }

        /// <summary>Loads an image file and a label file of any names, without the canonical MNIST checks.</summary>
        /// <param name="imagesPath">An unsigned-byte rank-3 IDX file, raw or gzip-compressed.</param>
        /// <param name="labelsPath">An unsigned-byte rank-1 IDX file, raw or gzip-compressed.</param>
        /// <returns>The examples.</returns>
        /// <exception cref="InvalidDataException">A file is malformed, or the image and label counts differ.</exception>
        public static MnistDataset FromFiles(string imagesPath, string labelsPath)
        {
            var images = IdxReader.ReadImages(imagesPath);
            var labels = IdxReader.ReadLabels(labelsPath);
            IdxReader.EnsureSameCount(images, labels, imagesPath, labelsPath);
            return new MnistDataset(images, labels);
        }

        /// <summary>All images as floats in [0, 1] (pixel / 255), image after image.</summary>
        /// <returns>A new array of <c>Count × PixelsPerImage</c> floats.</returns>
        public float[] NormalizedPixels()
        {
            var pixels = Images.Pixels;
            var result = new float[pixels.Length];
            for (var i = 0; i < pixels.Length; i++) result[i] = pixels[i] / 255f;
            return result;
        }

        /// <summary>One image as floats in [0, 1] (pixel / 255).</summary>
        /// <param name="index">Zero-based example index.</param>
        /// <returns>A new array of <see cref="PixelsPerImage"/> floats.</returns>
        public float[] NormalizedImage(int index)
        {
            var image = Images.Image(index);
            var result = new float[image.Length];
            for (var i = 0; i < image.Length; i++) result[i] = image[i] / 255f;
            return result;
        }

        /// <summary>All images as a float32 tensor of shape [Count, PixelsPerImage], values in [0, 1].</summary>
        /// <param name="device">Where to put the tensor; the CPU when null.</param>
        /// <returns>A new tensor the caller disposes.</returns>
        public Tensor ImagesTensor(Device? device = null)
        {
            using var bytes = torch.tensor(Images.Pixels, new long[] { Count, PixelsPerImage }, device: device);
            return bytes.to_type(ScalarType.Float32).div_(255f);
        }

        /// <summary>All labels as an int64 tensor of shape [Count], as cross-entropy losses expect.</summary>
        /// <param name="device">Where to put the tensor; the CPU when null.</param>
        /// <returns>A new tensor the caller disposes.</returns>
        public Tensor LabelsTensor(Device? device = null)
        {
            var labels = new long[Labels.Length];
            for (var i = 0; i < labels.Length; i++) labels[i] = Labels[i];
            return torch.tensor(labels, new long[] { Count }, device: device);
        }

        private static void EnsurePresent(string folder, IReadOnlyList<MnistFile> files)
        {
            ArgumentNullException.ThrowIfNull(folder);
            var missing = MnistFile.FindMissing(folder, files);
            if (missing.Count == 0) return;
            var names = string.Join(", ", missing.Select(f => $"{f.FileName} (or {f.UncompressedFileName})"));
            throw new FileNotFoundException(
                $"MNIST files missing from '{Path.GetFullPath(folder)}': {names}. " +
                "Run the sample with --download to fetch them, or copy them into that folder.",
                Path.Combine(Path.GetFullPath(folder), missing[0].FileName));
        }

        private static MnistDataset LoadCanonical(string folder, MnistFile imagesFile, MnistFile labelsFile)
        {
            var imagesPath = imagesFile.Locate(folder)!;
            var labelsPath = labelsFile.Locate(folder)!;
            var dataset = FromFiles(imagesPath, labelsPath);
            if (dataset.Count != imagesFile.ExpectedCount)
            {
                throw new InvalidDataException(
                    $"'{imagesPath}' holds {dataset.Count} images; the MNIST {imagesFile.Split.ToString().ToLowerInvariant()} " +
                    $"split has {imagesFile.ExpectedCount}.");
            }
            if (dataset.Images.Rows != ImageSide || dataset.Images.Cols != ImageSide)
            {
                throw new InvalidDataException(
                    $"'{imagesPath}' holds {dataset.Images.Rows} × {dataset.Images.Cols} images; MNIST images are {ImageSide} × {ImageSide}.");
            }
            var badLabel = Array.FindIndex(dataset.Labels, l => l >= ClassCount);
            if (badLabel >= 0)
            {
                throw new InvalidDataException(
                    $"'{labelsPath}' has label {dataset.Labels[badLabel]} at index {badLabel}; MNIST labels are 0 to {ClassCount - 1}.");
            }
            return dataset;
        }
    }
}
