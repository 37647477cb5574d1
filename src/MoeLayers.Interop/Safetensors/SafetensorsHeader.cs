using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Parses and validates a safetensors JSON header against the size of the data section that follows it, before any
    /// tensor byte is read: dtypes, shapes, offsets consistent with shape × element size, every offset inside the data
    /// section, no overlaps and no unused bytes (as the reference implementation requires).
    /// </summary>
    internal static class SafetensorsHeader
    {
        /// <summary>The reference implementation's limit on the header size (100 MB).</summary>
        internal const long MaxHeaderLength = 100_000_000;

        internal const string MetadataKey = "__metadata__";

        internal sealed class Result
        {
            public Result(Dictionary<string, SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
            {
                Tensors = tensors;
                Metadata = metadata;
            }

            public Dictionary<string, SafetensorsTensorInfo> Tensors { get; }

            public Dictionary<string, string> Metadata { get; }
        }

        internal static Result Parse(ReadOnlyMemory<byte> header, string path, long dataLength)
        {
            // System.Text.Json validates UTF-8 in values but not always in property names: check the whole header first.
            var invalidAt = FirstInvalidUtf8(header.Span);
            if (invalidAt >= 0)
                throw SafetensorsFormatException.For(path, $"the {header.Length}-byte header is not valid UTF-8 (invalid byte 0x{header.Span[invalidAt]:X2} at offset {invalidAt})");

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(header, new JsonDocumentOptions
                {
                    AllowTrailingCommas = false,
                    CommentHandling = JsonCommentHandling.Disallow,
                    MaxDepth = 8,
                });
            }
            catch (JsonException e)
            {
                throw SafetensorsFormatException.For(path, $"the {header.Length}-byte header is not valid UTF-8 JSON ({e.Message})", inner: e);
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw SafetensorsFormatException.For(path, $"the header must be a JSON object, found a JSON {root.ValueKind}");

                var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in root.EnumerateObject())
                {
                    if (!seen.Add(property.Name))
                        throw SafetensorsFormatException.For(path, "the key appears twice in the header", property.Name);
                    if (property.Name == MetadataKey)
                        ReadMetadata(property.Value, path, metadata);
                    else
                        tensors.Add(property.Name, ReadEntry(property.Name, property.Value, path, dataLength));
                }

                CheckLayout(tensors.Values, path, dataLength);
                return new Result(tensors, metadata);
            }
        }

        private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
        {
            var offset = 0;
            while (offset < bytes.Length)
            {
                if (Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed) != OperationStatus.Done) return offset;
                offset += consumed;
            }

            return -1;
        }

        private static void ReadMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
        {
            if (value.ValueKind == JsonValueKind.Null) return;
            if (value.ValueKind != JsonValueKind.Object)
                throw SafetensorsFormatException.For(path, $"'{MetadataKey}' must be a JSON object of strings, found a JSON {value.ValueKind}");
            foreach (var entry in value.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw SafetensorsFormatException.For(path,
                        $"metadata value '{entry.Name}' must be a JSON string, found a JSON {entry.Value.ValueKind}");
                if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                    throw SafetensorsFormatException.For(path, $"metadata key '{entry.Name}' appears twice");
            }
        }

        private static SafetensorsTensorInfo ReadEntry(string key, JsonElement value, string path, long dataLength)
        {
            if (value.ValueKind != JsonValueKind.Object)
                throw SafetensorsFormatException.For(path, $"the header entry must be a JSON object with dtype, shape and data_offsets, found a JSON {value.ValueKind}", key);

            if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
                throw SafetensorsFormatException.For(path, "the header entry has no 'dtype' string", key);
            var dtypeName = dtypeElement.GetString()!;
            if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            {
                var what = SafetensorsDTypes.FormatNames.Contains(dtypeName, StringComparer.Ordinal)
                    ? $"dtype '{dtypeName}' is not supported: MoeLayers.Interop reads {SafetensorsDTypes.ReadableNames} only"
                    : $"dtype '{dtypeName}' is not a safetensors dtype (MoeLayers.Interop reads {SafetensorsDTypes.ReadableNames})";
                throw SafetensorsFormatException.For(path, what, key);
            }

            var shape = ReadIntegers(value, "shape", key, path, expectedCount: null);
            var offsets = ReadIntegers(value, "data_offsets", key, path, expectedCount: 2);
            long begin = offsets[0], end = offsets[1];
            if (begin > end)
                throw SafetensorsFormatException.For(path, $"data_offsets [{begin}, {end}] end before they begin", key);

            long count, bytes;
            try
            {
                count = 1;
                foreach (var dimension in shape) count = checked(count * dimension);
                bytes = checked(count * dtype.ElementSize());
            }
            catch (OverflowException e)
            {
                throw SafetensorsFormatException.For(path, $"shape {SafetensorsTensorInfo.FormatShape(shape)} has more elements than a file can hold", key, e);
            }

            if (bytes != end - begin)
                throw SafetensorsFormatException.For(path,
                    $"data_offsets [{begin}, {end}] hold {end - begin} bytes but shape {SafetensorsTensorInfo.FormatShape(shape)} of {dtypeName} needs {bytes} bytes",
                    key);
            if (end > dataLength)
                throw SafetensorsFormatException.For(path,
                    $"data_offsets [{begin}, {end}] reach past the end of the data section, which has {dataLength} bytes (truncated file or wrong offsets)",
                    key);
            return new SafetensorsTensorInfo(key, dtype, shape, begin, end, count, path);
        }

        private static long[] ReadIntegers(JsonElement entry, string name, string key, string path, int? expectedCount)
        {
            if (!entry.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
                throw SafetensorsFormatException.For(path, $"the header entry has no '{name}' array", key);
            var values = new long[array.GetArrayLength()];
            if (expectedCount is { } n && values.Length != n)
                throw SafetensorsFormatException.For(path, $"'{name}' must have {n} entries, found {values.Length}", key);
            var i = 0;
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                    throw SafetensorsFormatException.For(path, $"'{name}' entry {i} must be a non-negative integer, found {item.GetRawText()}", key);
                values[i++] = v;
            }

            return values;
        }

        private static void CheckLayout(IEnumerable<SafetensorsTensorInfo> tensors, string path, long dataLength)
        {
            // Sorted by begin, the byte ranges must tile the data section exactly: each tensor starts where the one
            // before it ends (an earlier start is an overlap, a later one leaves bytes unused), and the last one ends
            // where the file does.
            long position = 0;
            SafetensorsTensorInfo? previous = null;
            foreach (var t in tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd).ThenBy(t => t.Key, StringComparer.Ordinal))
            {
                if (t.DataBegin < position)
                    throw SafetensorsFormatException.For(path,
                        $"data_offsets [{t.DataBegin}, {t.DataEnd}] overlap tensor '{previous!.Key}' at [{previous.DataBegin}, {previous.DataEnd}]",
                        t.Key);
                if (t.DataBegin > position)
                    throw SafetensorsFormatException.For(path,
                        $"data_offsets [{t.DataBegin}, {t.DataEnd}] leave bytes [{position}, {t.DataBegin}) of the data section unused; tensors must be stored back to back",
                        t.Key);
                position = t.DataEnd;
                previous = t;
            }

            if (position != dataLength)
                throw SafetensorsFormatException.For(path,
                    $"the tensors end at byte {position} of the data section but the file holds {dataLength} data bytes ({dataLength - position} bytes after the last tensor)");
        }
    }
}
