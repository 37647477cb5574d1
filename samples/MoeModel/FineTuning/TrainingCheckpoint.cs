using System;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MoeLayers.Interop;
using TorchSharp.Modules;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// A fine-tune's checkpoint folder, written atomically (a hidden sibling folder, then a swap; an interrupted write
    /// leaves the previous checkpoint): trained.safetensors holds <see cref="ModelAdapters.TrainedTensors"/> by state-dict
    /// key (a LoRA run's adapters, a full run's every parameter, and the balance biases), optimizer.bin AdamW's state
    /// (TorchSharp's format, streamed to the file), trainer_state.json the <see cref="TrainerState"/>.
    /// </summary>
    public static class TrainingCheckpoint
    {
        /// <summary>The trained tensors' file name.</summary>
        public const string WeightsFileName = "trained.safetensors";

        /// <summary>The state file's name.</summary>
        public const string StateFileName = "trainer_state.json";

        /// <summary>The optimizer state file's name.</summary>
        public const string OptimizerFileName = "optimizer.bin";

        private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

        /// <summary>Writes (or replaces) the checkpoint in <paramref name="folder"/>.</summary>
        /// <param name="folder">The checkpoint folder: absent, empty, or a checkpoint; its parent must exist.</param>
        /// <param name="model">The model being trained.</param>
        /// <param name="optimizer">Its optimizer.</param>
        /// <param name="state">Steps done, options, settings and history.</param>
        /// <exception cref="IOException"><paramref name="folder"/> holds something other than a checkpoint (it would be replaced as a whole).</exception>
        public static void Save(string folder, MoeCausalLM model, AdamW optimizer, TrainerState state)
        {
            ArgumentException.ThrowIfNullOrEmpty(folder);
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(optimizer);
            ArgumentNullException.ThrowIfNull(state);
            AtomicWrites.ReplaceFolder(folder, StateFileName, "fine-tune checkpoint", temporary =>
            {
                SafetensorsWriter.Write(Path.Combine(temporary, WeightsFileName), ModelAdapters.TrainedTensors(model));
                AtomicWrites.NewFile(Path.Combine(temporary, OptimizerFileName), stream =>
                {
                    using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
                    optimizer.save_state_dict(writer);
                });
                AtomicWrites.NewFile(Path.Combine(temporary, StateFileName), stream => JsonSerializer.Serialize(stream, state, Json));
            });
        }

        /// <summary>Reads trainer_state.json of <paramref name="folder"/>.</summary>
        /// <param name="folder">A checkpoint folder.</param>
        /// <exception cref="FileNotFoundException">The folder has no trainer_state.json.</exception>
        /// <exception cref="InvalidDataException">The file is not a trainer state.</exception>
        public static TrainerState ReadState(string folder)
        {
            ArgumentNullException.ThrowIfNull(folder);
            var path = Path.Combine(folder, StateFileName);
            if (!File.Exists(path)) throw new FileNotFoundException($"'{folder}' is not a fine-tune checkpoint: it has no {StateFileName}.", path);
            try
            {
                return JsonSerializer.Deserialize<TrainerState>(File.ReadAllBytes(path), Json)
                    ?? throw new InvalidDataException($"{path} holds null, not a trainer state.");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path} is not a trainer state: {e.Message}", e);
            }
        }

        /// <summary>
        /// Loads the checkpoint's trainable parameters into <paramref name="model"/> (checked key by key and shape by shape
        /// before anything changes: <see cref="ModelAdapters.LoadTrainedState"/>) and its state into
        /// <paramref name="optimizer"/>, which must have been built over the same parameters.
        /// </summary>
        /// <param name="folder">A checkpoint folder.</param>
        /// <param name="model">The model, prepared as the checkpointed one was (the same adapters, or fully trainable).</param>
        /// <param name="optimizer">A fresh optimizer over the model's trainable parameters.</param>
        public static void Restore(string folder, MoeCausalLM model, AdamW optimizer)
        {
            ArgumentNullException.ThrowIfNull(folder);
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(optimizer);
            var weights = Path.Combine(folder, WeightsFileName);
            var optimizerPath = Path.Combine(folder, OptimizerFileName);
            foreach (var path in new[] { weights, optimizerPath })
                if (!File.Exists(path)) throw new FileNotFoundException($"fine-tune checkpoint '{folder}' is incomplete: {Path.GetFileName(path)} is missing.", path);
            var state = SafetensorsStateDict.Load(weights);
            try
            {
                ModelAdapters.LoadTrainedState(model, state, weights);
            }
            finally
            {
                foreach (var tensor in state.Values) tensor.Dispose();
            }
            using var reader = new BinaryReader(File.OpenRead(optimizerPath));
            optimizer.load_state_dict(reader);
        }
    }
}
