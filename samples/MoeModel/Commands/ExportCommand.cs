using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using MoeLayers.Interop;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary><c>export</c>: writes the model back as a Hugging Face folder (sharded safetensors, index, config, generation config, tokenizer files).</summary>
    internal static class ExportCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var output = new Option<string>("--output") { Description = "The folder to write (created, or replaced as a whole).", Required = true };
            var dtype = new Option<string>("--dtype") { Description = "Storage dtype: bf16, f16 or f32.", DefaultValueFactory = _ => "bf16" };
            var shardMb = new Option<long>("--max-shard-mb") { Description = "The largest shard, in MB (10^6 bytes).", DefaultValueFactory = _ => SafetensorsCheckpoint.DefaultMaxShardBytes / 1_000_000 };
            var command = new Command("export", "Write the model as a Hugging Face folder, atomically.") { folder, output, dtype, shardMb };
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var source = parse.GetValue(folder)!;
                var target = parse.GetValue(output)!;
                var storage = ModelArguments.ParseDType(parse.GetValue(dtype)!);
                var maxShardMb = parse.GetValue(shardMb);
                if (maxShardMb < 1) throw new ArgumentOutOfRangeException(nameof(shardMb), maxShardMb, "--max-shard-mb must be ≥ 1.");
                using var model = ModelArguments.Load(source, storage);
                model.Save(target, source, storage, maxShardMb * 1_000_000);
                var files = Directory.GetFiles(target).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal);
                Console.WriteLine($"wrote {target}: {string.Join(", ", files)}");
                return 0;
            }));
            return command;
        }
    }
}
