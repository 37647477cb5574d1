using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Data;

namespace MoeLayers.Samples.Tests
{
    public sealed class IdxReaderTests : System.IDisposable
    {
        private readonly TempFolder _temp = new();

        public void Dispose() => _temp.Dispose();

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Images_read_back_exactly(bool gzip)
        {
            var pixels = IdxBytes.Sequence(3 * 4 * 5);
            var path = Write("images", IdxBytes.Images(3, 4, 5, pixels), gzip);

            var images = IdxReader.ReadImages(path);

            images.Count.Should().Be(3);
            images.Rows.Should().Be(4);
            images.Cols.Should().Be(5);
            images.Pixels.Should().Equal(pixels);
            images.Image(2).ToArray().Should().Equal(pixels.Skip(40));
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Labels_read_back_exactly(bool gzip)
        {
            var labels = new byte[] { 5, 0, 4, 1, 9, 2 };
            var path = Write("labels", IdxBytes.Labels(labels), gzip);

            IdxReader.ReadLabels(path).Should().Equal(labels);
        }

        [Fact]
        public void Gzip_is_detected_by_content_not_name()
        {
            var labels = new byte[] { 3, 1, 4 };
            var raw = _temp.File("raw-named.gz");
            File.WriteAllBytes(raw, IdxBytes.Labels(labels));
            var gzip = _temp.File("gzip-named-raw");
            File.WriteAllBytes(gzip, IdxBytes.Gzip(IdxBytes.Labels(labels)));

            IdxReader.ReadLabels(raw).Should().Equal(labels);
            IdxReader.ReadLabels(gzip).Should().Equal(labels);
        }

        [Fact]
        public void Non_seekable_streams_are_read()
        {
            var labels = new byte[] { 7, 7, 1 };
            using var stream = new NonSeekableStream(IdxBytes.Gzip(IdxBytes.Labels(labels)));

            IdxReader.ReadLabels(stream, "stream").Should().Equal(labels);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Bad_magic_is_rejected(bool gzip)
        {
            var path = Write("bad-magic", IdxBytes.Build(0x12340803, new[] { 1, 2, 2 }, new byte[4]), gzip);

            FluentActions.Invoking(() => IdxReader.ReadImages(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*bad magic number 0x12340803*0x00000803*");
        }

        [Fact]
        public void Wrong_data_type_is_rejected()
        {
            var path = Write("floats", IdxBytes.Build(0x00000D01, new[] { 1 }, new byte[4]), gzip: false);

            FluentActions.Invoking(() => IdxReader.ReadLabels(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*wrong data type 0x0D*unsigned bytes (0x08)*");
        }

        [Fact]
        public void Wrong_rank_is_rejected()
        {
            var path = Write("labels-as-images", IdxBytes.Labels(new byte[] { 1, 2 }), gzip: true);

            FluentActions.Invoking(() => IdxReader.ReadImages(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*wrong rank 1*rank 3*");
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Truncated_payload_is_rejected_with_both_byte_counts(bool gzip)
        {
            var full = IdxBytes.Images(2, 3, 3, IdxBytes.Sequence(18));
            var path = Write("truncated", full[..^5], gzip);

            FluentActions.Invoking(() => IdxReader.ReadImages(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*truncated*2 × 3 × 3*18 payload bytes*only 13*");
        }

        [Fact]
        public void Truncated_header_is_rejected()
        {
            var path = Write("short-header", IdxBytes.Images(2, 3, 3, new byte[18])[..10], gzip: false);

            FluentActions.Invoking(() => IdxReader.ReadImages(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*truncated in its header*12 bytes*found 6*");
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Trailing_bytes_are_rejected(bool gzip)
        {
            var path = Write("trailing", IdxBytes.Labels(new byte[] { 1, 2, 3 }).Concat(new byte[] { 0, 0 }).ToArray(), gzip);

            FluentActions.Invoking(() => IdxReader.ReadLabels(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*2 bytes of trailing data*3-byte payload*");
        }

        [Fact]
        public void Corrupt_gzip_is_rejected_naming_the_file()
        {
            var gzip = IdxBytes.Gzip(IdxBytes.Labels(IdxBytes.Sequence(1000)));
            for (var i = 10; i < gzip.Length - 8; i++) gzip[i] ^= 0x5a;
            var path = _temp.File("corrupt.gz");
            File.WriteAllBytes(path, gzip);

            FluentActions.Invoking(() => IdxReader.ReadLabels(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*does not decompress*");
        }

        [Fact]
        public void Cut_off_gzip_download_is_rejected_naming_the_file()
        {
            var gzip = IdxBytes.Gzip(IdxBytes.Labels(IdxBytes.Sequence(5000)));
            var path = _temp.File("cut-off.gz");
            File.WriteAllBytes(path, gzip[..(gzip.Length / 2)]);

            FluentActions.Invoking(() => IdxReader.ReadLabels(path))
                .Should().Throw<InvalidDataException>()
                .WithMessage($"*'{path}'*truncated*");
        }

        [Fact]
        public void Image_and_label_count_mismatch_is_rejected()
        {
            var images = new IdxImages(3, 2, 2, new byte[12]);

            FluentActions.Invoking(() => IdxReader.EnsureSameCount(images, new byte[2], "imgs", "lbls"))
                .Should().Throw<InvalidDataException>()
                .WithMessage("*count mismatch*'imgs' holds 3 images*'lbls' holds 2 labels*");
        }

        private string Write(string name, byte[] raw, bool gzip)
        {
            var path = _temp.File(name + (gzip ? ".gz" : ""));
            File.WriteAllBytes(path, gzip ? IdxBytes.Gzip(raw) : raw);
            return path;
        }

        private sealed class NonSeekableStream : MemoryStream
        {
            public NonSeekableStream(byte[] bytes) : base(bytes) { }

            public override bool CanSeek => false;
        }
    }
}
