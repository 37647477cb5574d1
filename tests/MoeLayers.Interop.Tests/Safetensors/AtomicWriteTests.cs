using System;
using System.Collections.Generic;
using System.IO;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.Safetensors
{
    public class AtomicWriteTests
    {
        /// <summary>Lets <c>limit</c> bytes through, then fails like a full disk.</summary>
        private sealed class FailingStream : Stream
        {
            private readonly Stream _inner;
            private long _left;

            public FailingStream(Stream inner, long limit)
            {
                _inner = inner;
                _left = limit;
            }

            public long Written { get; private set; }

            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

            public override void Write(ReadOnlySpan<byte> buffer)
            {
                if (buffer.Length > _left)
                {
                    // Like a full disk: what fits is written, then the write fails.
                    _inner.Write(buffer[..(int)_left]);
                    Written += _left;
                    _left = 0;
                    throw new IOException("No space left on device (simulated)");
                }

                _inner.Write(buffer);
                _left -= buffer.Length;
                Written += buffer.Length;
            }

            public override void Flush() => _inner.Flush();

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();
        }

        [Theory]
        [InlineData(0)]       // before the length field
        [InlineData(8)]       // after it, before the header
        [InlineData(200)]     // inside the tensor data
        public void AFailedWriteLeavesTheTargetUnchangedAndNoTemporaryFile(long failAfter)
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("model.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["old"] = ones(3) });
            var before = File.ReadAllBytes(path);

            FailingStream? failing = null;
            FluentActions.Invoking(() => SafetensorsWriter.Write(path,
                    new Dictionary<string, Tensor> { ["new"] = randn(100), ["other"] = randn(7) }, null,
                    s => failing = new FailingStream(s, failAfter)))
                .Should().Throw<IOException>().WithMessage("*simulated*");

            failing!.Written.Should().Be(failAfter, "the failure happened where it was injected");
            File.ReadAllBytes(path).Should().Equal(before);
            folder.Entries().Should().Equal(new[] { path }, "the temporary file is removed");
        }

        [Fact]
        public void AFailedFirstWriteCreatesNoFile()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("fresh.safetensors");
            FluentActions.Invoking(() => SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = ones(4) }, null,
                s => new FailingStream(s, 16))).Should().Throw<IOException>();
            folder.Entries().Should().BeEmpty();
        }

        [Theory]
        [InlineData(ScalarType.Int64)]
        [InlineData(ScalarType.Float64)]
        [InlineData(ScalarType.Bool)]
        [InlineData(ScalarType.Int8)]
        public void UnsupportedDTypeIsRefusedBeforeTouchingTheDisk(ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("model.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["old"] = ones(3) });
            var before = File.ReadAllBytes(path);

            FluentActions.Invoking(() => SafetensorsWriter.Write(path,
                    new Dictionary<string, Tensor> { ["fine"] = ones(2), ["counter"] = zeros(1, dtype: dtype) }))
                .Should().Throw<ArgumentException>().WithMessage($"*'counter' has dtype {dtype}*F32*F16*BF16*");
            File.ReadAllBytes(path).Should().Equal(before);
            folder.Entries().Should().HaveCount(1);
        }

        [Fact]
        public void ReservedOrEmptyKeysAndDisposedTensorsAreRefused()
        {
            using var folder = new TempFolder();
            var path = folder.File("x.safetensors");
            var disposed = ones(1);
            disposed.Dispose();
            using var one = ones(1);
            FluentActions.Invoking(() => SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["__metadata__"] = one }))
                .Should().Throw<ArgumentException>().WithMessage("*reserved*");
            FluentActions.Invoking(() => SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { [""] = one }))
                .Should().Throw<ArgumentException>().WithMessage("*empty*");
            FluentActions.Invoking(() => SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["gone"] = disposed }))
                .Should().Throw<ArgumentException>().WithMessage("*'gone' is null or disposed*");
            folder.Entries().Should().BeEmpty();
        }

        [Fact]
        public void AMissingFolderIsReportedAndNothingIsCreated()
        {
            using var folder = new TempFolder();
            using var one = ones(1);
            var path = Path.Combine(folder.Path, "no-such-folder", "x.safetensors");
            FluentActions.Invoking(() => SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = one }))
                .Should().Throw<DirectoryNotFoundException>().WithMessage("*no-such-folder*");
            folder.Entries().Should().BeEmpty();
        }

        [Fact]
        public void OverwritingReplacesTheWholeFileEvenWhenTheNewOneIsShorter()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var path = folder.File("model.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["big"] = randn(1000) });
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["small"] = ones(2) });
            using var file = SafetensorsFile.Open(path);
            file.Keys.Should().Equal("small");
            new FileInfo(path).Length.Should().Be(8 + file.HeaderLength + 8);
        }
    }
}
