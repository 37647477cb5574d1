using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary><c>merge</c>: folds a fine-tune's adapters into the base model and writes the result as a Hugging Face folder.</summary>
    internal static class MergeCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var adapters = new Option<string>("--adapters") { Description = "The adapter folder finetune wrote (OUTPUT/adapters).", Required = true };
            var output = new Option<string>("--output") { Description = "The folder to write (created, or replaced as a whole).", Required = true };
            var dtype = new Option<string>("--dtype") { Description = "The dtype to merge and store in: bf16, f16 or f32.", DefaultValueFactory = _ => "f32" };
            var noVerify = new Option<bool>("--no-verify") { Description = "Skip reloading the written folder to compare its logits with the adapted model's (it holds a second copy of the model)." };
            var command = new Command("merge", "Merge LoRA adapters into the base model and write a Hugging Face folder, atomically.") { folder, adapters, output, dtype, noVerify };
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var source = parse.GetValue(folder)!;
                var storage = ModelArguments.ParseDType(parse.GetValue(dtype)!);
                using var model = ModelArguments.Load(source, storage);
                var settings = PeftAdapterFolder.ApplyTo(parse.GetValue(adapters)!, model);
                using var scope = NewDisposeScope();
                // A fixed probe: 64 seeded token ids, whose logits the adapted model and the written folder must agree on.
                var probe = randint(0, model.Config.VocabSize, new long[] { 1, 64 }, dtype: ScalarType.Int64, generator: new Generator(0));
                var adaptedLogits = parse.GetValue(noVerify) ? null : model.Forward(probe);
                ModelAdapters.MergeAndUnload(model);
                var target = parse.GetValue(output)!;
                model.Save(target, source, storage);
                var files = Directory.GetFiles(target).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal);
                Console.WriteLine($"merged rank-{settings.Rank} adapters ({settings.Targets}) into {target}: {string.Join(", ", files)}");
                if (adaptedLogits is not null)
                {
                    using var reloaded = MoeCausalLM.Load(target, storage);
                    var difference = (reloaded.Forward(probe) - adaptedLogits).abs().max().item<float>();
                    Console.WriteLine($"verified: the written folder's logits differ from the adapted model's by at most {difference:E2} over 64 tokens ({storage}; logits span {adaptedLogits.min().item<float>():F2} … {adaptedLogits.max().item<float>():F2})");
                }
                return 0;
            }));
            return command;
        }
    }
}
