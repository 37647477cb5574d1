using System;
using System.Collections.Generic;
using System.IO;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    /// <summary>Reading one tensor of a checkpoint reads that tensor's bytes and the headers, and nothing else of its shard.</summary>
    public class LazyReadTests
    {
        /// <summary>Passes everything to the file and counts the bytes read through it.</summary>
        private sealed class CountingStream : Stream
        {
            private readonly Stream _inner;

            public CountingStream(Stream inner) => _inner = inner;

            public long BytesRead { get; private set; }

            public override bool CanRead => true;

            public override bool CanSeek => true;

            public override bool CanWrite => false;

            public override long Length => _inner.Length;

            public override long Position { get => _inner.Position; set => _inner.Position = value; }

            public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

            public override int Read(Span<byte> buffer)
            {
                var n = _inner.Read(buffer);
                BytesRead += n;
                return n;
            }

            public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

            public override void Flush()
            {
            }

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing) _inner.Dispose();
                base.Dispose(disposing);
            }
        }

        [Fact]
        public void ReadingOneSmallTensorOfALargeShardReadsOnlyItsBytesAndTheHeaders()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var target = Path.Combine(folder.Path, "ckpt");
            var big = randn(8L << 20);            // 32 MiB, in the same shard as the small tensor
            var small = arange(10f);
            var other = ones(4);
            // The limit is exactly big + small: they fill shard 1, other goes to shard 2.
            SafetensorsCheckpoint.Write(target, new[]
            {
                SafetensorsTensorSource.Of("big", big), SafetensorsTensorSource.Of("small", small), SafetensorsTensorSource.Of("other", other),
            }, maxShardBytes: (32L << 20) + 40);

            var counters = new List<CountingStream>();
            using var checkpoint = SafetensorsCheckpoint.Open(target, s =>
            {
                var c = new CountingStream(s);
                counters.Add(c);
                return c;
            });
            checkpoint.Files.Should().HaveCount(2);
            var shard = checkpoint.Files[0];
            shard.Keys.Should().Equal("big", "small");
            var headerBytes = new[] { 8 + shard.HeaderLength, 8 + checkpoint.Files[1].HeaderLength };
            counters[0].BytesRead.Should().Be(headerBytes[0], "opening reads the length field and the header only");
            counters[1].BytesRead.Should().Be(headerBytes[1]);

            using var read = checkpoint.Read("small");
            read.data<float>().ToArray().Should().Equal(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            counters[0].BytesRead.Should().Be(headerBytes[0] + 40, "only the 40 bytes of 'small' were read");
            counters[1].BytesRead.Should().Be(headerBytes[1], "the other shard was not touched");
            new FileInfo(shard.FilePath).Length.Should().BeGreaterThan(32L << 20);

            using var readBig = checkpoint.Read("big");
            counters[0].BytesRead.Should().Be(headerBytes[0] + 40 + (32L << 20));
            Bytes.Of(readBig).AsSpan().SequenceEqual(Bytes.Of(big)).Should().BeTrue();
        }
    }
}
