using System;
using System.IO;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Exposes exactly <c>length</c> bytes of a stream from its current position, and turns an early end of file into a
    /// <see cref="SafetensorsFormatException"/> instead of a silently half-filled tensor.
    /// </summary>
    internal sealed class WindowReadStream : Stream
    {
        private readonly Stream _inner;
        private readonly long _length;
        private readonly string _path;
        private readonly string _key;
        private long _read;

        public WindowReadStream(Stream inner, long length, string path, string key)
        {
            _inner = inner;
            _length = length;
            _path = path;
            _key = key;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _length;

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var wanted = (int)Math.Min(buffer.Length, _length - _read);
            if (wanted == 0) return 0;
            var n = _inner.Read(buffer[..wanted]);
            if (n == 0) throw Truncated();
            _read += n;
            return n;
        }

        public void EnsureFullyRead()
        {
            if (_read != _length) throw Truncated();
        }

        private SafetensorsFormatException Truncated() => SafetensorsFormatException.For(_path,
            $"the file ended after {_read} of the tensor's {_length} bytes (it changed after it was opened)", _key);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
