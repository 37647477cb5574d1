using System;
using System.CommandLine;
using MoeLayers.Samples.TinyShakespeare.Export;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Commands
{
    /// <summary>The <c>export</c> command: the MoE layers of a checkpoint as one safetensors file.</summary>
    internal static class ExportCommand
    {
        private static readonly Option<string> CheckpointOption = new("--checkpoint")
        {
            Description = "A checkpoint.bin written by train.",
            Required = true,
        };

        private static readonly Option<string> OutOption = new("--out")
        {
            Description = "The .safetensors file to write.",
            DefaultValueFactory = _ => "moe-layers.safetensors",
        };

        private static readonly Option<string> DTypeOption = new("--dtype")
        {
            Description = "Storage dtype: float32 (exact), bfloat16 or float16.",
            DefaultValueFactory = _ => "float32",
        };

        public static Command Create()
        {
            var command = new Command("export", "Write the checkpoint's MoE layers to a safetensors file (MoeLayers' names, options in the metadata).")
            {
                CheckpointOption, OutOption, DTypeOption,
            };
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var dtype = parse.GetValue(DTypeOption)!.ToLowerInvariant() switch
                {
                    "float32" or "f32" => ScalarType.Float32,
                    "bfloat16" or "bf16" => ScalarType.BFloat16,
                    "float16" or "f16" => ScalarType.Float16,
                    var other => throw new ArgumentException($"--dtype must be float32, bfloat16 or float16; got '{other}'."),
                };
                var (model, _) = Checkpoint.LoadModel(parse.GetValue(CheckpointOption)!);
                var path = parse.GetValue(OutOption)!;
                var count = MoeLayerExport.Write(model, path, dtype);
                Console.WriteLine($"Wrote {count} tensors of {model.MoeLayers.Count} MoE layers to {path} ({dtype}); keys start with {MoeLayerExport.Prefix(0)}.");
                return 0;
            }));
            return command;
        }
    }
}
