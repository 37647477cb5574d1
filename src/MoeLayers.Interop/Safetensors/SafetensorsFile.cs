using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// An open safetensors file: the header is read and validated on <see cref="Open(string)"/>, tensors are read one at a time
    /// on <see cref="Read"/>, straight from the file into each tensor's native memory through a bounded buffer, so a file
    /// larger than managed memory (or than RAM, when you read one tensor at a time) loads fine.
    /// </summary>
    /// <remarks>
    /// Format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each key to
    /// <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets relative to the data section) plus an optional
    /// <c>"__metadata__"</c> string map, then the raw little-endian tensor bytes. Every check runs before the first data
    /// byte is read; a failure throws <see cref="SafetensorsFormatException"/> naming the file and key.
    /// Instances are safe to share between threads (reads are serialized); dispose to close the file.
    /// </remarks>
    public sealed class SafetensorsFile : IDisposable
    {
        /// <summary>Bytes copied per read call when streaming a tensor from the file (1 MiB).</summary>
        private const int CopyBufferSize = 1 << 20;

        private readonly Stream _stream;
        private readonly object _gate = new();
        private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
        private readonly string[] _keys;
        private bool _disposed;

        private SafetensorsFile(string path, Stream stream, long headerLength, SafetensorsHeader.Result header)
        {
            FilePath = path;
            _stream = stream;
            HeaderLength = headerLength;
            _tensors = header.Tensors;
            _keys = _tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            Metadata = header.Metadata;
        }

        /// <summary>The file's full path.</summary>
        public string FilePath { get; }

        /// <summary>The JSON header's length in bytes (N); the data section starts at byte 8 + N.</summary>
        public long HeaderLength { get; }

        /// <summary>Every tensor key, in ordinal order.</summary>
        public IReadOnlyList<string> Keys => _keys;

        /// <summary>The header entries, in ordinal key order.</summary>
        public IEnumerable<SafetensorsTensorInfo> Tensors => _keys.Select(k => _tensors[k]);

        /// <summary>The <c>"__metadata__"</c> string map (empty when the file has none).</summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }

        /// <summary>Opens <paramref name="path"/> and validates its header; no tensor data is read yet.</summary>
        /// <param name="path">A safetensors file.</param>
        /// <exception cref="SafetensorsFormatException">
        /// The file is not a valid safetensors file, or holds a dtype this library does not read (see <see cref="SafetensorsDType"/>).
        /// </exception>
        /// <exception cref="FileNotFoundException">There is no such file.</exception>
        public static SafetensorsFile Open(string path) => Open(path, wrapStreamForTests: null);

        /// <summary>As the public overload; <paramref name="wrapStreamForTests"/> wraps the file's stream (tests count the bytes read).</summary>
        internal static SafetensorsFile Open(string path, Func<Stream, Stream>? wrapStreamForTests)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            var fullPath = Path.GetFullPath(path);
            // Unbuffered (bufferSize 0): every read goes straight to the OS, so a tensor's bytes are the only data bytes read.
            var file = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.RandomAccess);
            var stream = wrapStreamForTests?.Invoke(file) ?? file;
            try
            {
                var length = stream.Length;
                if (length < 8)
                    throw SafetensorsFormatException.For(fullPath,
                        $"the file is {length} bytes long, shorter than the 8-byte header length that starts every safetensors file");
                Span<byte> prefix = stackalloc byte[8];
                stream.ReadExactly(prefix);
                var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
                if (headerLength > (ulong)(length - 8))
                    throw SafetensorsFormatException.For(fullPath,
                        $"the header length field says {headerLength} bytes but only {length - 8} bytes follow it (truncated file, or not a safetensors file)");
                if (headerLength > SafetensorsHeader.MaxHeaderLength)
                    throw SafetensorsFormatException.For(fullPath,
                        $"the header length field says {headerLength} bytes, more than the format's limit of {SafetensorsHeader.MaxHeaderLength}");
                var header = new byte[(int)headerLength];
                stream.ReadExactly(header);
                var parsed = SafetensorsHeader.Parse(header, fullPath, length - 8 - (long)headerLength);
                return new SafetensorsFile(fullPath, stream, (long)headerLength, parsed);
            }
            catch
            {
                stream.Dispose();
                file.Dispose();
                throw;
            }
        }

        /// <summary>Whether the file holds a tensor named <paramref name="key"/>.</summary>
        /// <param name="key">A tensor key.</param>
        public bool Contains(string key) => _tensors.ContainsKey(key);

        /// <summary>The header entry of <paramref name="key"/>, or false when the file has no such tensor.</summary>
        /// <param name="key">A tensor key.</param>
        /// <param name="info">The entry when the result is true.</param>
        public bool TryGetInfo(string key, [MaybeNullWhen(false)] out SafetensorsTensorInfo info) => _tensors.TryGetValue(key, out info);

        /// <summary>The header entry of <paramref name="key"/>.</summary>
        /// <param name="key">A tensor key.</param>
        /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
        public SafetensorsTensorInfo GetInfo(string key)
        {
            if (_tensors.TryGetValue(key, out var info)) return info;
            throw new KeyNotFoundException($"safetensors file '{FilePath}' has no tensor '{key}' ({_tensors.Count} tensors{Nearest(key)}).");
        }

        /// <summary>
        /// Reads one tensor into a new CPU tensor of the file's dtype and shape (a scalar for an empty shape). The caller
        /// owns it; created inside a <c>torch.NewDisposeScope()</c>, it is disposed with the scope unless detached.
        /// </summary>
        /// <param name="key">A tensor key.</param>
        /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
        /// <exception cref="NotSupportedException">The tensor is float8, which TorchSharp has no type for: use <see cref="ReadFloat8Codes"/>.</exception>
        /// <exception cref="SafetensorsFormatException">The file ended early (it changed after it was opened).</exception>
        public Tensor Read(string key)
        {
            var info = GetInfo(key);
            if (info.DType.IsFloat8())
                throw new NotSupportedException(
                    $"tensor '{key}' in safetensors file '{FilePath}' is {info.DType.HeaderName()} {SafetensorsTensorInfo.FormatShape(info.Shape)}, which TorchSharp has no scalar type for: "
                    + $"read its codes with ReadFloat8Codes and decode them with {nameof(Float8)}, {nameof(Fp8BlockDequantization)} or {nameof(Mxfp4Dequantization)}.");
            return ReadData(info);
        }

        /// <summary>
        /// Reads a float8 tensor (F8_E4M3, F8_E5M2, F8_E8M0) as its codes: a new CPU uint8 (<c>Byte</c>) tensor of the
        /// stored shape, one code per element, for <see cref="Float8"/>, <see cref="Fp8BlockDequantization"/> or
        /// <see cref="Mxfp4Dequantization"/> to decode. The caller owns it.
        /// </summary>
        /// <param name="key">A tensor key.</param>
        /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
        /// <exception cref="NotSupportedException">The tensor is not float8: use <see cref="Read"/>.</exception>
        /// <exception cref="SafetensorsFormatException">The file ended early (it changed after it was opened).</exception>
        public Tensor ReadFloat8Codes(string key)
        {
            var info = GetInfo(key);
            if (!info.DType.IsFloat8())
                throw new NotSupportedException(
                    $"tensor '{key}' in safetensors file '{FilePath}' is {info.DType.HeaderName()}, not a float8 dtype (F8_E4M3, F8_E5M2, F8_E8M0): read it with Read.");
            return ReadData(info);
        }

        /// <summary>Streams the tensor's bytes from the file into a new tensor of <see cref="SafetensorsTensorInfo.ScalarType"/>.</summary>
        private Tensor ReadData(SafetensorsTensorInfo info)
        {
            var key = info.Key;
            ObjectDisposedException.ThrowIf(_disposed, this);
            TorchSharpNative.EnsureAvailable();
            var tensor = empty(info.ShapeArray, info.ScalarType);
            try
            {
                if (info.ByteLength > 0)
                {
                    if (!BitConverter.IsLittleEndian)
                        throw new PlatformNotSupportedException("safetensors data is little-endian; reading it on a big-endian machine is not supported.");
                    lock (_gate)
                    {
                        ObjectDisposedException.ThrowIf(_disposed, this);
                        _stream.Position = 8 + HeaderLength + info.DataBegin;
                        using var window = new WindowReadStream(_stream, info.ByteLength, FilePath, key);
                        tensor.ReadBytesFromStream(window, (int)Math.Min(CopyBufferSize, info.ByteLength));
                        window.EnsureFullyRead();
                    }
                }

                return tensor;
            }
            catch
            {
                tensor.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Reads every tensor, or only those whose key starts with <paramref name="prefix"/> (keys returned with the prefix
        /// removed). The caller owns the tensors. Holds them all in memory: for large files, prefer <see cref="Read"/>.
        /// </summary>
        /// <param name="prefix">A key prefix such as "model.layers.3.mlp.", or null for every tensor.</param>
        /// <exception cref="KeyNotFoundException">A prefix was given and no key starts with it.</exception>
        /// <exception cref="NotSupportedException">A selected tensor is float8 (see <see cref="ReadFloat8Codes"/>).</exception>
        public Dictionary<string, Tensor> ReadAll(string? prefix = null)
        {
            var keys = KeysUnder(prefix);
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (var key in keys) result.Add(key[(prefix?.Length ?? 0)..], Read(key));
                return result;
            }
            catch
            {
                foreach (var t in result.Values) t.Dispose();
                throw;
            }
        }

        /// <summary>The keys that start with <paramref name="prefix"/> (all keys for null), in ordinal order.</summary>
        /// <param name="prefix">A key prefix, or null.</param>
        /// <exception cref="KeyNotFoundException">A non-empty prefix was given and no key starts with it.</exception>
        public IReadOnlyList<string> KeysUnder(string? prefix)
        {
            if (string.IsNullOrEmpty(prefix)) return _keys;
            var keys = _keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
            if (keys.Length == 0)
                throw new KeyNotFoundException($"safetensors file '{FilePath}' has no tensor whose key starts with '{prefix}' ({_tensors.Count} tensors{Nearest(prefix)}).");
            return keys;
        }

        /// <summary>Closes the file.</summary>
        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                _stream.Dispose();
            }
        }

        private string Nearest(string wanted) => NearestKey(_keys, wanted);

        /// <summary>
        /// "; the closest key is 'k'" for the key sharing the longest prefix with the one asked for (the likely typo or
        /// wrong layer prefix), or "" when there are no keys.
        /// </summary>
        internal static string NearestKey(IEnumerable<string> keys, string wanted)
        {
            var best = keys.Select(k => (Key: k, Common: CommonPrefix(k, wanted))).OrderByDescending(p => p.Common).FirstOrDefault();
            return best.Key is null ? "" : $"; the closest key is '{best.Key}'";
        }

        private static int CommonPrefix(string a, string b)
        {
            var n = Math.Min(a.Length, b.Length);
            var i = 0;
            while (i < n && a[i] == b[i]) i++;
            return i;
        }
    }
}
