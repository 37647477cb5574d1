using System;
using System.CommandLine;
using System.IO;
using Spectre.Console;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>The model folder argument and dtype option every command shares, and loading with a progress bar.</summary>
    internal static class ModelArguments
    {
        /// <summary>The bundled tiny qwen3_moe folder (with its tokenizer), so every command runs offline out of the box.</summary>
        public static string BundledFolder => Path.Combine(AppContext.BaseDirectory, "data", "moe-models", "qwen3_moe");

        public static Argument<string> Folder() => new("folder")
        {
            Description = "A Hugging Face model folder (config.json, safetensors, tokenizer files); default: the bundled tiny qwen3_moe.",
            DefaultValueFactory = _ => BundledFolder,
        };

        public static Option<string> DType() => new("--dtype")
        {
            Description = "The dtype to compute in: bf16, f16 or f32 (MoE routers stay float32).",
            DefaultValueFactory = _ => "f32",
        };

        public static Option<string?> Adapters() => new("--adapters")
        {
            Description = "A LoRA adapter folder (finetune's OUTPUT/adapters, or PEFT's) to put on the model, unmerged.",
        };

        public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
        {
            "f32" or "float32" => ScalarType.Float32,
            "bf16" or "bfloat16" => ScalarType.BFloat16,
            "f16" or "float16" => ScalarType.Float16,
            _ => throw new ArgumentException($"--dtype must be bf16, f16 or f32; got '{name}'.", nameof(name)),
        };

        /// <summary>Loads the folder as <see cref="Load(string, ScalarType)"/> does, then puts the adapters of <paramref name="adapters"/> on it when given.</summary>
        public static MoeCausalLM Load(string folder, ScalarType dtype, string? adapters)
        {
            var model = Load(folder, dtype);
            if (adapters is null) return model;
            try
            {
                var settings = PeftAdapterFolder.ApplyTo(adapters, model);
                Console.Error.WriteLine($"adapters: {adapters} (rank {settings.Rank}, α {settings.Alpha}, {settings.Targets})");
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        /// <summary>Loads the folder, drawing a progress bar on a terminal (one line when the output is a log).</summary>
        public static MoeCausalLM Load(string folder, ScalarType dtype)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            MoeCausalLM? model = null;
            if (AnsiConsole.Profile.Capabilities.Interactive)
            {
                AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(context =>
                    {
                        var task = context.AddTask($"loading {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}");
                        model = MoeCausalLM.Load(folder, dtype, new InlineProgress<LoadProgress>(p =>
                        {
                            task.MaxValue = Math.Max(1, p.Total);
                            task.Value = p.Done;
                        }));
                    });
            }
            else
            {
                model = MoeCausalLM.Load(folder, dtype);
            }
            var config = model!.Config;
            Console.Error.WriteLine($"{config.ModelType}: {config.NumLayers} layers ({config.Moe.MoeLayerIndices.Count} MoE), d = {config.HiddenSize}, "
                + $"vocab {config.VocabSize}, {dtype}, loaded in {watch.Elapsed.TotalSeconds:F1} s");
            return model;
        }
    }
}
