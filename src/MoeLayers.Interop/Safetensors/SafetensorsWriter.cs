using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Writes safetensors files the way the reference implementation does, atomically: the file is written to a temporary
    /// name in the target's folder and renamed over the target only once complete, so a failed write leaves the target
    /// as it was and no temporary file behind.
    /// </summary>
    /// <remarks>
    /// Layout: tensors sorted as the reference writer sorts them (F32 first, then BF16, then F16; ordinal by key within a
    /// dtype), stored back to back; the compact JSON header lists <c>"__metadata__"</c> first and then the tensors in
    /// data order, padded with spaces to a multiple of 8 bytes. Non-contiguous tensors and tensors on other devices are
    /// copied to contiguous CPU memory one at a time while writing.
    /// </remarks>
    public static class SafetensorsWriter
    {
        private const int CopyBufferSize = 1 << 20;

        /// <summary>One tensor's place in a file's data section.</summary>
        internal sealed record Entry(SafetensorsTensorSource Source, long Begin, long End);

        /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/>, replacing any existing file atomically.</summary>
        /// <param name="path">The file to write; its folder must exist.</param>
        /// <param name="tensors">Key → tensor; each must be F32, F16 or BF16 (any device, any strides).</param>
        /// <param name="metadata">Optional <c>"__metadata__"</c> string map (Hugging Face writes <c>{"format": "pt"}</c>).</param>
        /// <exception cref="ArgumentException">A tensor has another dtype, a key is empty or "__metadata__", or a tensor was disposed.</exception>
        /// <exception cref="DirectoryNotFoundException">The target folder does not exist.</exception>
        public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
            => Write(path, tensors, metadata, wrapStreamForTests: null);

        /// <summary>As the public overload; <paramref name="wrapStreamForTests"/> wraps the temporary file's stream (tests inject failures).</summary>
        internal static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata,
            Func<Stream, Stream>? wrapStreamForTests)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            ArgumentNullException.ThrowIfNull(tensors);
            var fullPath = Path.GetFullPath(path);
            var folder = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' names no file.", nameof(path));
            if (!Directory.Exists(folder))
                throw new DirectoryNotFoundException($"cannot write safetensors file '{fullPath}': folder '{folder}' does not exist.");
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("safetensors data is little-endian; writing it on a big-endian machine is not supported.");

            var entries = Plan(tensors, fullPath);
            var header = BuildHeader(entries, metadata);

            var temporary = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
            try
            {
                WriteNewFile(temporary, fullPath, entries, header, wrapStreamForTests);
                File.Move(temporary, fullPath, overwrite: true);
            }
            catch
            {
                TryDelete(temporary);
                throw;
            }
        }

        /// <summary>
        /// Creates <paramref name="path"/> (which must not exist) holding the header and every entry's bytes, flushed to
        /// disk before it returns. <paramref name="target"/> is the file name messages use.
        /// </summary>
        internal static void WriteNewFile(string path, string target, IReadOnlyList<Entry> entries, byte[] header, Func<Stream, Stream>? wrapStreamForTests)
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            var stream = wrapStreamForTests?.Invoke(file) ?? file;
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var entry in entries) WriteData(stream, entry, target);
            stream.Flush();
            file.Flush(flushToDisk: true);
        }

        /// <summary>Checks every tensor and lays out the data section, before anything touches the disk.</summary>
        internal static List<Entry> Plan(IReadOnlyDictionary<string, Tensor> tensors, string path)
        {
            var sources = new List<SafetensorsTensorSource>(tensors.Count);
            foreach (var (key, tensor) in tensors)
            {
                CheckKey(key, $"safetensors file '{path}'");
                if (tensor is null || tensor.IsInvalid)
                    throw new ArgumentException($"cannot write safetensors file '{path}': tensor '{key}' is null or disposed.", nameof(tensors));
                if (!SafetensorsDTypes.TryFromScalarType(tensor.dtype, out _))
                    throw new ArgumentException($"cannot write safetensors file '{path}': {SafetensorsTensorSource.UnwritableDType(key, tensor.dtype)}", nameof(tensors));
                sources.Add(SafetensorsTensorSource.Of(key, tensor));
            }

            return Layout(sources, path);
        }

        /// <summary>
        /// Lays out one file's data section as the reference writer does: sorted by dtype (F32, BF16, F16), then by key,
        /// back to back. Keys must be valid and distinct.
        /// </summary>
        internal static List<Entry> Layout(IReadOnlyList<SafetensorsTensorSource> sources, string path)
        {
            CheckKeys(sources, $"safetensors file '{path}'");
            var entries = new List<Entry>(sources.Count);
            long offset = 0;
            foreach (var source in sources.OrderBy(p => p.DType.WriteRank()).ThenBy(p => p.Key, StringComparer.Ordinal))
            {
                entries.Add(new Entry(source, offset, offset + source.ByteLength));
                offset += source.ByteLength;
            }

            return entries;
        }

        /// <summary>
        /// Every key valid (not empty, not "__metadata__") and given once; <paramref name="target"/> says what is being
        /// written in messages ("safetensors file '/x/a.safetensors'", "checkpoint folder '/x/ckpt'").
        /// </summary>
        internal static void CheckKeys(IReadOnlyList<SafetensorsTensorSource> sources, string target)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var source in sources)
            {
                CheckKey(source.Key, target);
                if (!seen.Add(source.Key))
                    throw new ArgumentException($"cannot write {target}: tensor '{source.Key}' is given twice.", "tensors");
            }
        }

        private static void CheckKey(string key, string target)
        {
            if (string.IsNullOrEmpty(key))
                throw new ArgumentException($"cannot write {target}: a tensor key is empty.", "tensors");
            if (key == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"cannot write {target}: '{key}' is reserved for the metadata map.", "tensors");
        }

        /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes as the reference writer does.</summary>
        internal static byte[] BuildHeader(IReadOnlyList<Entry> entries, IReadOnlyDictionary<string, string>? metadata)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false }))
            {
                json.WriteStartObject();
                if (metadata is { Count: > 0 })
                {
                    json.WriteStartObject(SafetensorsHeader.MetadataKey);
                    foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                    {
                        ArgumentNullException.ThrowIfNull(value, $"metadata['{key}']");
                        json.WriteString(key, value);
                    }

                    json.WriteEndObject();
                }

                foreach (var e in entries)
                {
                    json.WriteStartObject(e.Source.Key);
                    json.WriteString("dtype", e.Source.DType.HeaderName());
                    json.WriteStartArray("shape");
                    foreach (var d in e.Source.Shape) json.WriteNumberValue(d);
                    json.WriteEndArray();
                    json.WriteStartArray("data_offsets");
                    json.WriteNumberValue(e.Begin);
                    json.WriteNumberValue(e.End);
                    json.WriteEndArray();
                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            var padding = (int)((8 - buffer.Length % 8) % 8);
            for (var i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
            return buffer.ToArray();
        }

        private static void WriteData(Stream stream, Entry entry, string target)
        {
            if (entry.End == entry.Begin) return;
            TorchSharpNative.EnsureAvailable();
            using var created = entry.Source.Create(target);
            using var onCpu = created.device_type == DeviceType.CPU ? null : created.cpu();
            var source = onCpu ?? created;
            using var contiguous = source.is_contiguous() ? null : source.contiguous();
            (contiguous ?? source).WriteBytesToStream(stream, (int)Math.Min(CopyBufferSize, entry.End - entry.Begin));
        }

        internal static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
