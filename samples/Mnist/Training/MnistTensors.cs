using System;
using MoeLayers.Samples.Mnist.Data;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>One split as tensors: images float32 [N, 784] in [0, 1] and labels int64 [N]. Owns both.</summary>
    public sealed class MnistTensors : IDisposable
    {
        /// <summary>Wraps the two tensors and takes ownership of them.</summary>
        /// <param name="images">float32 [N, 784].</param>
        /// <param name="labels">int64 [N], each in [0, 10).</param>
        public MnistTensors(Tensor images, Tensor labels)
        {
            ArgumentNullException.ThrowIfNull(images);
            ArgumentNullException.ThrowIfNull(labels);
            if (images.dim() != 2 || labels.dim() != 1 || images.shape[0] != labels.shape[0])
            {
                throw new ArgumentException(
                    $"images must be [N, pixels] and labels [N]; got [{string.Join(", ", images.shape)}] and [{string.Join(", ", labels.shape)}].",
                    nameof(labels));
            }
            Images = images;
            Labels = labels;
        }

        /// <summary>float32 [N, 784].</summary>
        public Tensor Images { get; }

        /// <summary>int64 [N].</summary>
        public Tensor Labels { get; }

        /// <summary>N.</summary>
        public long Count => Labels.shape[0];

        /// <summary>The whole split, or its first <paramref name="limit"/> examples.</summary>
        /// <param name="dataset">A loaded split.</param>
        /// <param name="limit">Keep only this many leading examples; null for all.</param>
        public static MnistTensors From(MnistDataset dataset, int? limit = null)
        {
            ArgumentNullException.ThrowIfNull(dataset);
            if (limit is { } l && (l < 1 || l > dataset.Count))
                throw new ArgumentOutOfRangeException(nameof(limit), l, $"limit must be in [1, {dataset.Count}]; got {l}.");
            var images = dataset.ImagesTensor();
            var labels = dataset.LabelsTensor();
            if (limit is null || limit == dataset.Count) return new MnistTensors(images, labels);
            using (images)
            using (labels)
            {
                return new MnistTensors(images.narrow(0, 0, limit.Value).clone(), labels.narrow(0, 0, limit.Value).clone());
            }
        }

        /// <inheritdoc />
        public void Dispose()
        {
            Images.Dispose();
            Labels.Dispose();
        }
    }
}
