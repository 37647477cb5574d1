using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// A checkpoint as Hugging Face stores one: a single <c>model.safetensors</c>, or shards
    /// (<c>model-00001-of-00003.safetensors</c>, ...) listed by <c>model.safetensors.index.json</c>. Opening reads and
    /// validates the index and every shard's header (never tensor data) and checks them against each other; tensors
    /// are then read one at a time, each streamed from its shard, so no shard is ever loaded whole.
    /// </summary>
    /// <remarks>
    /// The index must be a JSON object whose <c>weight_map</c> maps each key to a plain <c>.safetensors</c> file name in
    /// the index's folder (no '/', '\', ':', '..' or absolute path: nothing outside the folder is opened); each shard
    /// named must exist and hold exactly the keys the index lists for it: a key the index lists but its shard lacks, or a
    /// key a shard holds that the index does not list for it, is refused at <see cref="Open(string)"/> with the key and shard.
    /// Failures throw <see cref="SafetensorsFormatException"/> naming the index or shard and the key. Instances are safe
    /// to share between threads; dispose to close every shard.
    /// </remarks>
    public sealed class SafetensorsCheckpoint : IDisposable
    {
        /// <summary>The file name of an unsharded checkpoint: "model.safetensors".</summary>
        public const string SingleFileName = "model.safetensors";

        /// <summary>The file name of a sharded checkpoint's index: "model.safetensors.index.json".</summary>
        public const string IndexFileName = "model.safetensors.index.json";

        /// <summary>Hugging Face's default largest shard, "5GB": 5 · 10⁹ bytes.</summary>
        public const long DefaultMaxShardBytes = 5_000_000_000;

        private const string Expected =
            "expected a folder with model.safetensors or model.safetensors.index.json, an index .json file, or a .safetensors file";

        private readonly SafetensorsFile[] _files;
        private readonly Dictionary<string, SafetensorsFile> _fileOf;
        private readonly string[] _keys;

        private SafetensorsCheckpoint(string folderPath, string? indexPath, SafetensorsFile[] files, Dictionary<string, SafetensorsFile> fileOf,
            IReadOnlyDictionary<string, string> metadata)
        {
            FolderPath = folderPath;
            IndexPath = indexPath;
            _files = files;
            _fileOf = fileOf;
            _keys = fileOf.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            Metadata = metadata;
        }

        /// <summary>The folder holding the checkpoint's files (full path).</summary>
        public string FolderPath { get; }

        /// <summary>The index file's full path, or null for a checkpoint of one <c>.safetensors</c> file.</summary>
        public string? IndexPath { get; }

        /// <summary>The open safetensors files: the shards in ordinal name order, or the one file.</summary>
        public IReadOnlyList<SafetensorsFile> Files => _files;

        /// <summary>Every tensor key of the checkpoint, in ordinal order.</summary>
        public IReadOnlyList<string> Keys => _keys;

        /// <summary>
        /// For a sharded checkpoint, the index's <c>"metadata"</c> object (string values as they are, others such as
        /// <c>total_size</c> as their JSON text, e.g. "1234"); for a single file, its <c>"__metadata__"</c> map. Each
        /// shard's own <c>"__metadata__"</c> is on <see cref="Files"/>.
        /// </summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }

        /// <summary>
        /// Opens a checkpoint: a folder (holding <c>model.safetensors</c>, or else <c>model.safetensors.index.json</c> and
        /// its shards; <c>model.safetensors</c> wins when both are there, as in transformers), an index <c>.json</c> file,
        /// or one <c>.safetensors</c> file. Reads and checks the index and every header; no tensor data is read.
        /// </summary>
        /// <param name="path">A checkpoint folder, an index file or a safetensors file.</param>
        /// <exception cref="FileNotFoundException">Nothing is at <paramref name="path"/>, or the folder holds neither file; the message says what was expected and what was found.</exception>
        /// <exception cref="ArgumentException"><paramref name="path"/> is a file that is neither <c>.json</c> nor <c>.safetensors</c>.</exception>
        /// <exception cref="SafetensorsFormatException">The index or a shard is malformed, a shard is missing, or the index and the shards disagree.</exception>
        public static SafetensorsCheckpoint Open(string path) => Open(path, wrapStreamForTests: null);

        /// <summary>As the public overload; <paramref name="wrapStreamForTests"/> wraps each shard's stream (tests count the bytes read).</summary>
        internal static SafetensorsCheckpoint Open(string path, Func<Stream, Stream>? wrapStreamForTests)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            var fullPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
            if (Directory.Exists(fullPath))
            {
                var single = Path.Combine(fullPath, SingleFileName);
                if (File.Exists(single)) return OpenSingle(single, wrapStreamForTests);
                var index = Path.Combine(fullPath, IndexFileName);
                if (File.Exists(index)) return OpenIndexed(index, wrapStreamForTests);
                throw new FileNotFoundException($"cannot open checkpoint '{fullPath}': {Expected}; found a folder with {PlainFileName.DescribeFolder(fullPath)}.", fullPath);
            }

            if (File.Exists(fullPath))
            {
                if (fullPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return OpenIndexed(fullPath, wrapStreamForTests);
                if (fullPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return OpenSingle(fullPath, wrapStreamForTests);
                throw new ArgumentException($"cannot open checkpoint '{fullPath}': {Expected}; found a file that is neither.", nameof(path));
            }

            throw new FileNotFoundException($"cannot open checkpoint '{fullPath}': {Expected}; found nothing at that path.", fullPath);
        }

        private static SafetensorsCheckpoint OpenSingle(string filePath, Func<Stream, Stream>? wrapStreamForTests)
        {
            var file = SafetensorsFile.Open(filePath, wrapStreamForTests);
            var fileOf = file.Keys.ToDictionary(k => k, _ => file, StringComparer.Ordinal);
            return new SafetensorsCheckpoint(Path.GetDirectoryName(file.FilePath)!, null, new[] { file }, fileOf, file.Metadata);
        }

        private static SafetensorsCheckpoint OpenIndexed(string indexPath, Func<Stream, Stream>? wrapStreamForTests)
        {
            var index = SafetensorsIndex.Read(indexPath);
            var folder = Path.GetDirectoryName(indexPath)!;
            var keysOfShard = index.WeightMap
                .GroupBy(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToArray();
            foreach (var shard in keysOfShard)
            {
                var shardPath = Path.Combine(folder, shard.Key);
                if (!File.Exists(shardPath))
                {
                    var keys = shard.OrderBy(k => k, StringComparer.Ordinal).ToArray();
                    var others = keys.Length > 1 ? $" and {keys.Length - 1} other tensors" : "";
                    throw SafetensorsIndex.Problem(indexPath, $"the index lists it{others} in shard '{shard.Key}', but '{shardPath}' does not exist", keys[0]);
                }
            }

            var files = new List<SafetensorsFile>(keysOfShard.Length);
            try
            {
                foreach (var shard in keysOfShard) files.Add(SafetensorsFile.Open(Path.Combine(folder, shard.Key), wrapStreamForTests));
                var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
                for (var i = 0; i < keysOfShard.Length; i++)
                {
                    var shardName = keysOfShard[i].Key;
                    var file = files[i];
                    foreach (var key in keysOfShard[i].OrderBy(k => k, StringComparer.Ordinal))
                    {
                        if (!file.Contains(key))
                            throw SafetensorsIndex.Problem(indexPath,
                                $"the index lists it in shard '{shardName}', but that shard does not hold it ({file.Keys.Count} tensors{SafetensorsFile.NearestKey(file.Keys, key)})", key);
                        fileOf.Add(key, file);
                    }

                    foreach (var key in file.Keys)
                    {
                        if (!index.WeightMap.TryGetValue(key, out var listed))
                            throw SafetensorsIndex.Problem(indexPath, $"shard '{shardName}' holds it, but the index does not list it", key);
                        if (listed != shardName)
                            throw SafetensorsIndex.Problem(indexPath, $"shard '{shardName}' holds it, but the index lists it in shard '{listed}'", key);
                    }
                }

                return new SafetensorsCheckpoint(folder, indexPath, files.ToArray(), fileOf, index.Metadata);
            }
            catch
            {
                foreach (var f in files) f.Dispose();
                throw;
            }
        }

        /// <summary>Whether the checkpoint holds a tensor named <paramref name="key"/>.</summary>
        /// <param name="key">A tensor key.</param>
        public bool Contains(string key) => _fileOf.ContainsKey(key);

        /// <summary>The header entry of <paramref name="key"/> (its <see cref="SafetensorsTensorInfo.FilePath"/> is the shard), or false when there is no such tensor.</summary>
        /// <param name="key">A tensor key.</param>
        /// <param name="info">The entry when the result is true.</param>
        public bool TryGetInfo(string key, [MaybeNullWhen(false)] out SafetensorsTensorInfo info)
        {
            if (_fileOf.TryGetValue(key, out var file)) return file.TryGetInfo(key, out info);
            info = null;
            return false;
        }

        /// <summary>The header entry of <paramref name="key"/>; its <see cref="SafetensorsTensorInfo.FilePath"/> is the shard holding it.</summary>
        /// <param name="key">A tensor key.</param>
        /// <exception cref="KeyNotFoundException">The checkpoint has no such tensor.</exception>
        public SafetensorsTensorInfo GetInfo(string key) => FileOf(key).GetInfo(key);

        /// <summary>The keys that start with <paramref name="prefix"/> (all keys for null or ""), in ordinal order.</summary>
        /// <param name="prefix">A key prefix such as "model.layers.3.mlp.", or null.</param>
        /// <exception cref="KeyNotFoundException">A non-empty prefix was given and no key starts with it.</exception>
        public IReadOnlyList<string> KeysUnder(string? prefix)
        {
            if (string.IsNullOrEmpty(prefix)) return _keys;
            var keys = _keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
            if (keys.Length == 0)
                throw new KeyNotFoundException($"checkpoint '{Source}' has no tensor whose key starts with '{prefix}' ({_keys.Length} tensors{SafetensorsFile.NearestKey(_keys, prefix)}).");
            return keys;
        }

        /// <summary>
        /// Reads one tensor from its shard into a new CPU tensor of the stored dtype and shape, streaming only that
        /// tensor's bytes (see <see cref="SafetensorsFile.Read"/>). The caller owns it.
        /// </summary>
        /// <param name="key">A tensor key.</param>
        /// <exception cref="KeyNotFoundException">The checkpoint has no such tensor.</exception>
        /// <exception cref="NotSupportedException">The tensor is float8: use <see cref="ReadFloat8Codes"/>.</exception>
        /// <exception cref="SafetensorsFormatException">The shard ended early (it changed after it was opened).</exception>
        public Tensor Read(string key) => FileOf(key).Read(key);

        /// <summary>Reads a float8 tensor's codes as uint8 from its shard (see <see cref="SafetensorsFile.ReadFloat8Codes"/>). The caller owns it.</summary>
        /// <param name="key">A tensor key.</param>
        /// <exception cref="KeyNotFoundException">The checkpoint has no such tensor.</exception>
        /// <exception cref="NotSupportedException">The tensor is not float8: use <see cref="Read"/>.</exception>
        /// <exception cref="SafetensorsFormatException">The shard ended early (it changed after it was opened).</exception>
        public Tensor ReadFloat8Codes(string key) => FileOf(key).ReadFloat8Codes(key);

        /// <summary>Closes every shard.</summary>
        public void Dispose()
        {
            foreach (var file in _files) file.Dispose();
        }

        /// <summary>
        /// Writes a checkpoint folder the way Hugging Face does, replacing <paramref name="folder"/> atomically: tensors
        /// packed greedily, in the order given, into shards of at most <paramref name="maxShardBytes"/> (a tensor larger
        /// than that gets a shard of its own), named <c>model-00001-of-0000N.safetensors</c> with
        /// <c>model.safetensors.index.json</c> (<c>metadata.total_size</c>, <c>weight_map</c> sorted by key), or a single
        /// <c>model.safetensors</c> and no index when one shard suffices; plus <paramref name="extraFiles"/> (config.json,
        /// ...) in the same folder.
        /// </summary>
        /// <remarks>
        /// Everything is written into a new hidden sibling folder first; only then is an existing <paramref name="folder"/>
        /// renamed aside, the new one moved into its place and the old one deleted. A failure before that swap (a bad
        /// tensor, a factory that throws, a full disk) leaves <paramref name="folder"/> exactly as it was and removes the
        /// temporary folder. The whole folder is replaced: files in it that this call does not write are gone afterwards,
        /// so an existing folder is only replaced when it is empty or holds a checkpoint (<c>model.safetensors</c> or
        /// <c>model.safetensors.index.json</c>). Tensors are produced one at a time by their sources and disposed after
        /// being written, so the model need not be in memory at once. Each shard is a safetensors file laid out as
        /// <see cref="SafetensorsWriter"/> lays one out, with <c>__metadata__</c> <c>{"format": "pt"}</c>.
        /// Shard sizes count each tensor's bytes (elements × element size); huggingface_hub counts storage bytes, which is
        /// the same for tensors that do not share or view a larger storage.
        /// </remarks>
        /// <param name="folder">The checkpoint folder to create or replace; its parent folder must exist.</param>
        /// <param name="tensors">The tensors in the order to pack them (a state dict's order); keys distinct.</param>
        /// <param name="maxShardBytes">The largest shard, in bytes; Hugging Face's default is 5 · 10⁹ ("5GB").</param>
        /// <param name="metadata">
        /// Extra string metadata, as huggingface_hub's <c>save_torch_state_dict</c> places it: in the index's
        /// <c>"metadata"</c> beside <c>total_size</c> when sharded, else in the single file's <c>__metadata__</c> beside
        /// <c>"format"</c>. The key "total_size" is reserved.
        /// </param>
        /// <param name="extraFiles">File name → content of other files to place in the folder (e.g. "config.json"); plain names only.</param>
        /// <exception cref="ArgumentException">A tensor, key, metadata entry or file name is invalid, or a file name collides with the checkpoint's own files.</exception>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShardBytes"/> is below 1.</exception>
        /// <exception cref="DirectoryNotFoundException">The parent folder does not exist.</exception>
        /// <exception cref="IOException"><paramref name="folder"/> is a file, or an existing folder that holds no checkpoint; or writing failed.</exception>
        public static void Write(string folder, IEnumerable<SafetensorsTensorSource> tensors, long maxShardBytes = DefaultMaxShardBytes,
            IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyDictionary<string, byte[]>? extraFiles = null)
            => CheckpointFolderWriter.Write(folder, tensors, maxShardBytes, metadata, extraFiles, afterOldMovedAsideForTests: null);

        private string Source => IndexPath ?? _files[0].FilePath;

        private SafetensorsFile FileOf(string key)
        {
            if (_fileOf.TryGetValue(key, out var file)) return file;
            throw new KeyNotFoundException($"checkpoint '{Source}' has no tensor '{key}' ({_keys.Length} tensors{SafetensorsFile.NearestKey(_keys, key)}).");
        }
    }
}
