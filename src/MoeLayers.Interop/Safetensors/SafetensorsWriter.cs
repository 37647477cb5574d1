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

        internal sealed class Entry
        {
            public Entry(string key, Tensor tensor, SafetensorsDType dtype, long[] shape, long begin, long end)
            {
                Key = key;
                Tensor = tensor;
                DType = dtype;
                Shape = shape;
                Begin = begin;
                End = end;
            }

            public string Key { get; }

            public Tensor Tensor { get; }

            public SafetensorsDType DType { get; }

            public long[] Shape { get; }

            public long Begin { get; }

            public long End { get; }
        }

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
                using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    var stream = wrapStreamForTests?.Invoke(file) ?? file;
                    Span<byte> length = stackalloc byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                    stream.Write(length);
                    stream.Write(header);
                    foreach (var entry in entries) WriteData(stream, entry);
                    stream.Flush();
                    file.Flush(flushToDisk: true);
                }

                File.Move(temporary, fullPath, overwrite: true);
            }
            catch
            {
                TryDelete(temporary);
                throw;
            }
        }

        /// <summary>Checks every tensor and lays out the data section, before anything touches the disk.</summary>
        internal static List<Entry> Plan(IReadOnlyDictionary<string, Tensor> tensors, string path)
        {
            var planned = new List<(string Key, Tensor Tensor, SafetensorsDType DType, long[] Shape, long Bytes)>(tensors.Count);
            foreach (var (key, tensor) in tensors)
            {
                if (string.IsNullOrEmpty(key))
                    throw new ArgumentException($"cannot write safetensors file '{path}': a tensor key is empty.", nameof(tensors));
                if (key == SafetensorsHeader.MetadataKey)
                    throw new ArgumentException($"cannot write safetensors file '{path}': '{key}' is reserved for the metadata map.", nameof(tensors));
                if (tensor is null || tensor.IsInvalid)
                    throw new ArgumentException($"cannot write safetensors file '{path}': tensor '{key}' is null or disposed.", nameof(tensors));
                if (!SafetensorsDTypes.TryFromScalarType(tensor.dtype, out var dtype))
                    throw new ArgumentException(
                        $"cannot write safetensors file '{path}': tensor '{key}' has dtype {tensor.dtype}; MoeLayers.Interop writes Float32 (F32), Float16 (F16) and BFloat16 (BF16) only.",
                        nameof(tensors));
                var shape = tensor.shape;
                planned.Add((key, tensor, dtype, shape, checked(tensor.numel() * dtype.ElementSize())));
            }

            var entries = new List<Entry>(planned.Count);
            long offset = 0;
            foreach (var p in planned.OrderBy(p => p.DType.WriteRank()).ThenBy(p => p.Key, StringComparer.Ordinal))
            {
                entries.Add(new Entry(p.Key, p.Tensor, p.DType, p.Shape, offset, offset + p.Bytes));
                offset += p.Bytes;
            }

            return entries;
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
                    json.WriteStartObject(e.Key);
                    json.WriteString("dtype", e.DType.HeaderName());
                    json.WriteStartArray("shape");
                    foreach (var d in e.Shape) json.WriteNumberValue(d);
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

        private static void WriteData(Stream stream, Entry entry)
        {
            if (entry.End == entry.Begin) return;
            TorchSharpNative.EnsureAvailable();
            // detach() always returns a new handle, so disposing what this method creates never touches the caller's tensor.
            using var detached = entry.Tensor.detach();
            using var onCpu = detached.device_type == DeviceType.CPU ? null : detached.cpu();
            var source = onCpu ?? detached;
            using var contiguous = source.is_contiguous() ? null : source.contiguous();
            (contiguous ?? source).WriteBytesToStream(stream, (int)Math.Min(CopyBufferSize, entry.End - entry.Begin));
        }

        private static void TryDelete(string path)
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
