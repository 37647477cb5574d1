using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Data;
using TorchSharp;

namespace MoeLayers.Samples.Tests
{
    public sealed class MnistDatasetTests : IDisposable
    {
        private readonly TempFolder _temp = new();

        public void Dispose() => _temp.Dispose();

        [Fact]
        public void Bundled_data_loads_60000_train_and_10000_test_with_labels_0_to_9()
        {
            var (train, test) = MnistDataset.LoadTrainAndTest(MnistDataset.DefaultFolder);

            train.Count.Should().Be(60_000);
            test.Count.Should().Be(10_000);
            train.PixelsPerImage.Should().Be(784);
            test.PixelsPerImage.Should().Be(784);
            train.Labels.Should().OnlyContain(l => l <= 9);
            test.Labels.Should().OnlyContain(l => l <= 9);
            train.Labels.Distinct().Should().HaveCount(10);
            train.Labels.Take(5).Should().Equal(new byte[] { 5, 0, 4, 1, 9 });
            test.Labels.Take(5).Should().Equal(new byte[] { 7, 2, 1, 0, 4 });
        }

        [Fact]
        public void Tensors_have_the_training_shapes_and_types()
        {
            var test = MnistDataset.Load(MnistDataset.DefaultFolder, MnistSplit.Test);

            using var images = test.ImagesTensor();
            using var labels = test.LabelsTensor();

            images.shape.Should().Equal(10_000L, 784L);
            images.dtype.Should().Be(torch.ScalarType.Float32);
            images.min().item<float>().Should().Be(0f);
            images.max().item<float>().Should().Be(1f);
            labels.shape.Should().Equal(10_000L);
            labels.dtype.Should().Be(torch.ScalarType.Int64);
            labels[0].item<long>().Should().Be(7);
        }

        [Fact]
        public void Normalized_pixels_are_bytes_over_255()
        {
            var pixels = new byte[] { 0, 51, 255, 128, 1, 2, 3, 4 };
            var dataset = WriteAndLoad(IdxBytes.Images(2, 2, 2, pixels), IdxBytes.Labels(new byte[] { 3, 8 }));

            dataset.NormalizedPixels().Should().Equal(pixels.Select(p => p / 255f));
            dataset.NormalizedImage(1).Should().Equal(new[] { 1 / 255f, 2 / 255f, 3 / 255f, 4 / 255f });
            using var tensor = dataset.ImagesTensor();
            tensor.data<float>().ToArray().Should().Equal(dataset.NormalizedPixels());
        }

        [Fact]
        public void Uncompressed_canonical_names_are_accepted()
        {
            File.WriteAllBytes(_temp.File("t10k-images-idx3-ubyte"), IdxBytes.Images(10_000, 28, 28, new byte[10_000 * 784]));
            File.WriteAllBytes(_temp.File("t10k-labels-idx1-ubyte"), IdxBytes.Labels(new byte[10_000]));

            MnistDataset.Load(_temp.Path, MnistSplit.Test).Count.Should().Be(10_000);
        }

        [Fact]
        public void Wrong_count_under_a_canonical_name_is_rejected()
        {
            File.WriteAllBytes(_temp.File("t10k-images-idx3-ubyte"), IdxBytes.Images(3, 28, 28, new byte[3 * 784]));
            File.WriteAllBytes(_temp.File("t10k-labels-idx1-ubyte"), IdxBytes.Labels(new byte[3]));

            FluentActions.Invoking(() => MnistDataset.Load(_temp.Path, MnistSplit.Test))
                .Should().Throw<InvalidDataException>()
                .WithMessage("*holds 3 images*test split has 10000*");
        }

        [Fact]
        public void Image_and_label_count_mismatch_is_rejected()
        {
            var images = _temp.File("imgs");
            var labels = _temp.File("lbls");
            File.WriteAllBytes(images, IdxBytes.Images(3, 2, 2, new byte[12]));
            File.WriteAllBytes(labels, IdxBytes.Labels(new byte[4]));

            FluentActions.Invoking(() => MnistDataset.FromFiles(images, labels))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*count mismatch*'{images}' holds 3 images*'{labels}' holds 4 labels*");
        }

        [Fact]
        public void Missing_files_are_named_with_the_folder_and_a_download_hint()
        {
            File.Copy(Path.Combine(MnistDataset.DefaultFolder, "train-labels-idx1-ubyte.gz"), _temp.File("train-labels-idx1-ubyte.gz"));

            var thrown = FluentActions.Invoking(() => MnistDataset.Load(_temp.Path, MnistSplit.Train))
                .Should().Throw<FileNotFoundException>()
                .WithMessage($"*'{_temp.Path}'*train-images-idx3-ubyte.gz*--download*").Which;
            thrown.Message.Should().NotContain("train-labels");
            thrown.FileName.Should().Be(_temp.File("train-images-idx3-ubyte.gz"));
        }

        private MnistDataset WriteAndLoad(byte[] images, byte[] labels)
        {
            File.WriteAllBytes(_temp.File("images"), images);
            File.WriteAllBytes(_temp.File("labels"), labels);
            return MnistDataset.FromFiles(_temp.File("images"), _temp.File("labels"));
        }
    }
}
