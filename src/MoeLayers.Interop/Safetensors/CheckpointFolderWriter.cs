using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Writes a Hugging Face checkpoint folder (<see cref="SafetensorsCheckpoint.Write"/>): everything is checked, then
    /// written into a temporary sibling folder, which then replaces the target (<see cref="FolderSwap"/>).
    /// </summary>
    /// <remarks>
    /// File names, index and metadata placement follow huggingface_hub <c>src/huggingface_hub/serialization/_torch.py</c>
    /// (<c>save_torch_state_dict</c>: per-file metadata <c>{"format": "pt"}</c>, plus the caller's metadata when not
    /// sharded; index <c>{"metadata": {total_size, ...}, "weight_map": ...}</c>) at commit
    /// ee0a4510f4bc15e26cb722be2efc2bdb01383ca0; the index is written as transformers' <c>save_pretrained</c> writes it:
    /// <c>json.dumps(index, indent=2, sort_keys=True) + "\n"</c>.
    /// </remarks>
    internal static class CheckpointFolderWriter
    {
        private const string TotalSizeKey = "total_size";

        public static void Write(string folder, IEnumerable<SafetensorsTensorSource> tensors, long maxShardBytes,
            IReadOnlyDictionary<string, string>? metadata, IReadOnlyDictionary<string, byte[]>? extraFiles, Action<string>? afterOldMovedAsideForTests)
        {
            ArgumentException.ThrowIfNullOrEmpty(folder);
            ArgumentNullException.ThrowIfNull(tensors);
            ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("safetensors data is little-endian; writing it on a big-endian machine is not supported.");
            var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
            var parent = Path.GetDirectoryName(target)
                ?? throw new ArgumentException($"cannot write a checkpoint to '{target}': it is a root folder; name a folder inside one.", nameof(folder));
            if (!Directory.Exists(parent))
                throw new DirectoryNotFoundException($"cannot write checkpoint folder '{target}': its parent folder '{parent}' does not exist.");
            CheckReplaceable(target);

            // Everything is checked before the disk is touched.
            var sources = tensors.ToList();
            for (var i = 0; i < sources.Count; i++)
            {
                if (sources[i] is null)
                    throw new ArgumentException($"cannot write checkpoint folder '{target}': tensor source {i} is null.", nameof(tensors));
            }

            SafetensorsWriter.CheckKeys(sources, $"checkpoint folder '{target}'");
            CheckMetadata(metadata, target);
            var shards = ShardPlan.Split(sources, maxShardBytes);
            var names = shards.Select((_, i) => ShardPlan.FileName(i, shards.Count)).ToArray();
            var sharded = shards.Count > 1;
            CheckExtraFiles(extraFiles, names, target);

            var fileMetadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
            if (!sharded && metadata is not null)
            {
                foreach (var (key, value) in metadata) fileMetadata[key] = value;
            }

            var temporary = FolderSwap.Sibling(target, "tmp");
            Directory.CreateDirectory(temporary);
            try
            {
                if (shards.Count == 0)
                {
                    WriteShard(temporary, target, SafetensorsCheckpoint.SingleFileName, new List<SafetensorsTensorSource>(), fileMetadata);
                }

                for (var i = 0; i < shards.Count; i++) WriteShard(temporary, target, names[i], shards[i], fileMetadata);
                if (sharded)
                {
                    var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
                    for (var i = 0; i < shards.Count; i++)
                    {
                        foreach (var source in shards[i]) weightMap.Add(source.Key, names[i]);
                    }

                    var totalSize = sources.Sum(s => s.ByteLength);
                    WriteFile(Path.Combine(temporary, SafetensorsCheckpoint.IndexFileName), IndexJson(totalSize, metadata, weightMap));
                }

                if (extraFiles is not null)
                {
                    foreach (var (name, content) in extraFiles) WriteFile(Path.Combine(temporary, name), content);
                }

                FolderSwap.Replace(temporary, target, afterOldMovedAsideForTests);
            }
            catch
            {
                FolderSwap.TryDeleteFolder(temporary);
                throw;
            }
        }

        /// <summary>
        /// The index as transformers writes it (<c>json.dumps(index, indent=2, sort_keys=True) + "\n"</c>): keys sorted at
        /// every level, two-space indentation; <c>total_size</c> a number, the caller's metadata strings.
        /// </summary>
        internal static byte[] IndexJson(long totalSize, IReadOnlyDictionary<string, string>? metadata, IReadOnlyDictionary<string, string> weightMap)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true }))
            {
                json.WriteStartObject();
                json.WriteStartObject("metadata");
                var entries = (metadata ?? new Dictionary<string, string>()).Select(m => (m.Key, Value: (string?)m.Value))
                    .Append((Key: TotalSizeKey, Value: null))
                    .OrderBy(m => m.Key, StringComparer.Ordinal);
                foreach (var (key, value) in entries)
                {
                    if (value is null) json.WriteNumber(key, totalSize);
                    else json.WriteString(key, value);
                }

                json.WriteEndObject();
                json.WriteStartObject("weight_map");
                foreach (var (key, shard) in weightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, shard);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            buffer.WriteByte((byte)'\n');
            return buffer.ToArray();
        }

        private static void WriteShard(string temporary, string target, string name, List<SafetensorsTensorSource> shard, IReadOnlyDictionary<string, string> fileMetadata)
        {
            var finalPath = Path.Combine(target, name);
            var entries = SafetensorsWriter.Layout(shard, finalPath);
            var header = SafetensorsWriter.BuildHeader(entries, fileMetadata);
            SafetensorsWriter.WriteNewFile(Path.Combine(temporary, name), finalPath, entries, header, wrapStreamForTests: null);
        }

        private static void WriteFile(string path, byte[] content)
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            file.Write(content);
            file.Flush(flushToDisk: true);
        }

        /// <summary>An existing target must be a folder that is empty or holds a checkpoint: replacing drops every file in it.</summary>
        private static void CheckReplaceable(string target)
        {
            if (File.Exists(target))
                throw new IOException($"cannot write checkpoint folder '{target}': a file has that name.");
            if (!Directory.Exists(target)) return;
            if (!Directory.EnumerateFileSystemEntries(target).Any()) return;
            if (File.Exists(Path.Combine(target, SafetensorsCheckpoint.SingleFileName)) || File.Exists(Path.Combine(target, SafetensorsCheckpoint.IndexFileName))) return;
            throw new IOException(
                $"cannot write checkpoint folder '{target}': it exists and holds no {SafetensorsCheckpoint.SingleFileName} or {SafetensorsCheckpoint.IndexFileName} "
                + $"({PlainFileName.DescribeFolder(target)}); the whole folder would be replaced, so only an empty folder or a checkpoint folder is. Choose another folder or empty it.");
        }

        private static void CheckMetadata(IReadOnlyDictionary<string, string>? metadata, string target)
        {
            if (metadata is null) return;
            foreach (var (key, value) in metadata)
            {
                if (key == TotalSizeKey)
                    throw new ArgumentException($"cannot write checkpoint folder '{target}': metadata key '{TotalSizeKey}' is reserved (the index's total size is computed).", nameof(metadata));
                if (value is null)
                    throw new ArgumentException($"cannot write checkpoint folder '{target}': metadata value '{key}' is null.", nameof(metadata));
            }
        }

        private static void CheckExtraFiles(IReadOnlyDictionary<string, byte[]>? extraFiles, string[] shardNames, string target)
        {
            if (extraFiles is null) return;
            foreach (var (name, content) in extraFiles)
            {
                if (PlainFileName.Problem(name) is { } problem)
                    throw new ArgumentException($"cannot write checkpoint folder '{target}': extra file name '{name}' is refused: {problem}.", nameof(extraFiles));
                if (name == SafetensorsCheckpoint.IndexFileName || name == SafetensorsCheckpoint.SingleFileName || shardNames.Contains(name, StringComparer.Ordinal))
                    throw new ArgumentException($"cannot write checkpoint folder '{target}': extra file '{name}' has the name of one of the checkpoint's own files.", nameof(extraFiles));
                if (content is null)
                    throw new ArgumentException($"cannot write checkpoint folder '{target}': the content of extra file '{name}' is null.", nameof(extraFiles));
            }
        }
    }
}
