using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Data;
using Spectre.Console;

namespace MoeLayers.Samples.Tests
{
    public sealed class MnistDownloaderTests : IDisposable
    {
        private static readonly Uri[] Mirrors =
        {
            new("https://mirror-a.test/mnist/"),
            new("https://mirror-b.test/data"),
            new("http://mirror-c.test/"),
        };

        private readonly TempFolder _temp = new();
        private readonly StringWriter _output = new();

        public void Dispose() => _temp.Dispose();

        [Fact]
        public async Task Missing_files_are_verified_and_renamed_into_place()
        {
            var handler = new FakeHttpHandler(url => FakeHttpHandler.Bytes(Canonical(url)));
            var folder = Path.Combine(_temp.Path, "not-yet-created");

            var paths = await Downloader(handler).DownloadMissingAsync(folder);

            paths.Should().Equal(MnistFile.All.Select(f => Path.Combine(folder, f.FileName)));
            Directory.GetFiles(folder).Select(Path.GetFileName).Should()
                .BeEquivalentTo(MnistFile.All.Select(f => f.FileName));
            foreach (var file in MnistFile.All)
            {
                File.ReadAllBytes(Path.Combine(folder, file.FileName)).Should().Equal(Canonical(file.FileName));
            }
            handler.Requests.Should().OnlyContain(u => u.Host == "mirror-a.test");
            MnistDataset.Load(folder, MnistSplit.Test).Count.Should().Be(10_000);
        }

        [Fact]
        public async Task Files_already_present_are_not_fetched()
        {
            foreach (var file in MnistFile.All.Where(f => f != MnistFile.TestLabels))
            {
                File.WriteAllBytes(_temp.File(file.UncompressedFileName), Array.Empty<byte>());
            }
            var handler = new FakeHttpHandler(url => FakeHttpHandler.Bytes(Canonical(url)));

            var paths = await Downloader(handler).DownloadMissingAsync(_temp.Path);

            paths.Should().Equal(_temp.File(MnistFile.TestLabels.FileName));
            handler.Requests.Should().Equal(new Uri("https://mirror-a.test/mnist/t10k-labels-idx1-ubyte.gz"));
        }

        [Fact]
        public async Task Checksum_mismatch_falls_through_to_the_next_mirror_and_leaves_no_partial_file()
        {
            string[]? filesWhenMirrorBAsked = null;
            var handler = new FakeHttpHandler(url =>
            {
                if (url.Host == "mirror-a.test") return FakeHttpHandler.Bytes(Corrupted(Canonical(url)));
                filesWhenMirrorBAsked = _temp.FileNames();
                return FakeHttpHandler.Bytes(Canonical(url));
            });

            var paths = await Downloader(handler).DownloadAsync(new[] { MnistFile.TestLabels }, _temp.Path);

            paths.Should().Equal(_temp.File("t10k-labels-idx1-ubyte.gz"));
            filesWhenMirrorBAsked.Should().BeEmpty("the corrupt download must be deleted before the next mirror is tried");
            _temp.FileNames().Should().Equal("t10k-labels-idx1-ubyte.gz");
            File.ReadAllBytes(paths[0]).Should().Equal(Canonical("t10k-labels-idx1-ubyte.gz"));
            handler.Requests.Select(u => u.ToString()).Should().Equal(
                "https://mirror-a.test/mnist/t10k-labels-idx1-ubyte.gz",
                "https://mirror-b.test/data/t10k-labels-idx1-ubyte.gz");
            _output.ToString().Should().Contain("md5");
        }

        [Fact]
        public async Task Wrong_size_falls_through_to_the_next_mirror()
        {
            var handler = new FakeHttpHandler(url => url.Host == "mirror-a.test"
                ? FakeHttpHandler.Bytes(Canonical(url)[..100])
                : FakeHttpHandler.Bytes(Canonical(url)));

            var paths = await Downloader(handler).DownloadAsync(new[] { MnistFile.TrainLabels }, _temp.Path);

            File.ReadAllBytes(paths[0]).Should().Equal(Canonical("train-labels-idx1-ubyte.gz"));
            _temp.FileNames().Should().Equal("train-labels-idx1-ubyte.gz");
        }

        [Fact]
        public async Task All_mirrors_failing_throws_and_leaves_nothing_behind()
        {
            var handler = new FakeHttpHandler(url => url.Host switch
            {
                "mirror-a.test" => FakeHttpHandler.Status(HttpStatusCode.NotFound),
                "mirror-b.test" => throw new HttpRequestException("connection refused"),
                _ => FakeHttpHandler.Bytes(Corrupted(Canonical(url))),
            });

            var thrown = await FluentActions.Awaiting(() => Downloader(handler).DownloadMissingAsync(_temp.Path))
                .Should().ThrowAsync<MnistDownloadException>();

            thrown.Which.File.Should().Be(MnistFile.TrainImages);
            thrown.Which.Failures.Should().HaveCount(3);
            thrown.Which.Message.Should().ContainAll(
                "train-images-idx3-ubyte.gz", "mirror-a.test", "HTTP 404", "mirror-b.test", "connection refused",
                "mirror-c.test", "md5");
            _temp.FileNames().Should().BeEmpty();
        }

        [Fact]
        public async Task Default_mirrors_are_tried_in_order()
        {
            var handler = new FakeHttpHandler(_ => FakeHttpHandler.Status(HttpStatusCode.ServiceUnavailable));
            using var http = new HttpClient(handler);
            var downloader = new MnistDownloader(http, QuietConsole());

            await FluentActions.Awaiting(() => downloader.DownloadAsync(new[] { MnistFile.TestImages }, _temp.Path))
                .Should().ThrowAsync<MnistDownloadException>();

            handler.Requests.Select(u => u.ToString()).Should().Equal(
                "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
                "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
                "http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz");
        }

        [Fact]
        public async Task Cancellation_propagates_and_leaves_nothing_behind()
        {
            var handler = new FakeHttpHandler(url => FakeHttpHandler.Bytes(Canonical(url)));
            using var cancelled = new CancellationTokenSource();
            await cancelled.CancelAsync();

            await FluentActions.Awaiting(() => Downloader(handler).DownloadMissingAsync(_temp.Path, cancelled.Token))
                .Should().ThrowAsync<OperationCanceledException>();

            _temp.FileNames().Should().BeEmpty();
        }

        private MnistDownloader Downloader(FakeHttpHandler handler) =>
            new(new HttpClient(handler), QuietConsole(), Mirrors);

        private IAnsiConsole QuietConsole() => AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(_output),
        });

        private static byte[] Canonical(Uri url) => Canonical(url.Segments[^1]);

        private static byte[] Canonical(string fileName) =>
            File.ReadAllBytes(Path.Combine(MnistDataset.DefaultFolder, fileName));

        private static byte[] Corrupted(byte[] bytes)
        {
            var copy = (byte[])bytes.Clone();
            copy[copy.Length / 2] ^= 0xff;
            return copy;
        }
    }
}
