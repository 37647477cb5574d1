using System;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Parallel;
using MoeLayers.Samples.TinyShakespeare.Storage;
using TorchSharp.Modules;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>
    /// One-file checkpoints: a magic tag, the metadata as JSON, the model's state dict and optionally AdamW's state,
    /// all in TorchSharp's binary format. Written atomically, so an interrupted save leaves the previous checkpoint.
    /// </summary>
    public static class Checkpoint
    {
        /// <summary>The file name a training run saves to inside its output folder.</summary>
        public const string FileName = "checkpoint.bin";

        /// <summary>
        /// The file this process saves to and resumes from: <see cref="FileName"/> for one process; in an expert-parallel
        /// run each rank holds only its experts (and their optimizer state), so each writes its own
        /// <c>checkpoint.rank&lt;r&gt;-of-&lt;W&gt;.bin</c> (atomically, like every checkpoint).
        /// </summary>
        /// <param name="share">This process's rank.</param>
        public static string FileNameOf(RankShare share)
        {
            ArgumentNullException.ThrowIfNull(share);
            return share.IsExpertParallel ? $"checkpoint.rank{share.Rank}-of-{share.WorldSize}.bin" : FileName;
        }

        private const string Magic = "MoeLayers.TinyShakespeare.Checkpoint.v1";

        /// <summary>JSON options for metadata and summaries: indented, enums by name (so new router kinds round-trip).</summary>
        public static JsonSerializerOptions JsonOptions { get; } = new()
        {
            WriteIndented = true,
            Converters = { new JsonStringEnumConverter() },
        };

        /// <summary>Saves metadata, weights and (if given) optimizer state to <paramref name="path"/>, atomically.</summary>
        public static void Save(string path, CheckpointMetadata metadata, CharTransformer model, AdamW? optimizer)
        {
            ArgumentNullException.ThrowIfNull(metadata);
            ArgumentNullException.ThrowIfNull(model);
            if (metadata.Model != model.Config)
                throw new ArgumentException("metadata.Model must describe the model being saved.", nameof(metadata));
            AtomicFile.Write(path, stream =>
            {
                using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
                writer.Write(Magic);
                writer.Write(JsonSerializer.Serialize(metadata, JsonOptions));
                model.save(writer);
                writer.Write(optimizer is not null);
                optimizer?.save_state_dict(writer);
                writer.Flush();
            });
        }

        /// <summary>Reads only the metadata of a checkpoint.</summary>
        /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
        /// <exception cref="InvalidDataException">The file is not a checkpoint of this sample.</exception>
        public static CheckpointMetadata ReadMetadata(string path)
        {
            using var reader = Open(path);
            return ReadHeader(reader, path);
        }

        /// <summary>Builds the model a checkpoint describes and loads its weights.</summary>
        public static (CharTransformer Model, CheckpointMetadata Metadata) LoadModel(string path)
        {
            var metadata = ReadMetadata(path);
            var model = new CharTransformer(metadata.Model);
            LoadStates(path, model, optimizer: null);
            return (model, metadata);
        }

        /// <summary>Loads the weights into <paramref name="model"/> and, if given, the optimizer state.</summary>
        /// <exception cref="InvalidDataException">The file is not a checkpoint, was written for another model shape, or
        /// has no optimizer state while one was asked for.</exception>
        public static void LoadStates(string path, CharTransformer model, AdamW? optimizer)
        {
            ArgumentNullException.ThrowIfNull(model);
            using var reader = Open(path);
            var metadata = ReadHeader(reader, path);
            if (metadata.Model != model.Config)
                throw new InvalidDataException($"{path} holds a model of shape {metadata.Model}, not {model.Config}.");
            model.load(reader, strict: true);
            var hasOptimizer = reader.ReadBoolean();
            if (optimizer is null) return;
            if (!hasOptimizer) throw new InvalidDataException($"{path} has no optimizer state to resume from.");
            optimizer.load_state_dict(reader);
        }

        private static BinaryReader Open(string path)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint at {path}.", path);
            return new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        }

        private static CheckpointMetadata ReadHeader(BinaryReader reader, string path)
        {
            try
            {
                if (reader.ReadString() != Magic) throw new InvalidDataException($"{path} is not a tiny-shakespeare checkpoint.");
                return JsonSerializer.Deserialize<CheckpointMetadata>(reader.ReadString(), JsonOptions)
                    ?? throw new InvalidDataException($"{path} has empty metadata.");
            }
            catch (Exception e) when (e is EndOfStreamException or JsonException or FormatException)
            {
                throw new InvalidDataException($"{path} is not a tiny-shakespeare checkpoint (or is truncated): {e.Message}", e);
            }
        }
    }
}
