using System;
using System.CommandLine;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Generation;
using MoeLayers.Samples.TinyShakespeare.Training;

namespace MoeLayers.Samples.TinyShakespeare.Commands
{
    /// <summary>The <c>generate</c> command: samples text from a checkpoint.</summary>
    internal static class GenerateCommand
    {
        private static readonly Option<string> CheckpointOption = new("--checkpoint")
        {
            Description = "A checkpoint.bin written by train.",
            Required = true,
        };

        private static readonly Option<string> PromptOption = new("--prompt")
        {
            Description = "Text to continue (characters from the training vocabulary); empty starts from a newline.",
            DefaultValueFactory = _ => "",
        };

        private static readonly Option<int> LengthOption = new("--length")
        {
            Description = "Characters to generate.",
            DefaultValueFactory = _ => 500,
        };

        private static readonly Option<double> TemperatureOption = new("--temperature")
        {
            Description = "Divides the logits: below 1 is more conservative, above 1 more adventurous. Must be > 0.",
            DefaultValueFactory = _ => 1.0,
        };

        private static readonly Option<int> TopKOption = new("--top-k")
        {
            Description = "Sample among the k most likely characters only (0 = all).",
            DefaultValueFactory = _ => 0,
        };

        private static readonly Option<int> SeedOption = new("--seed")
        {
            Description = "Sampling seed: the same checkpoint, prompt, options and seed give the same text.",
            DefaultValueFactory = _ => 1337,
        };

        public static Command Create()
        {
            var command = new Command("generate", "Generate text from a trained checkpoint.")
            {
                CheckpointOption, PromptOption, LengthOption, TemperatureOption, TopKOption, SeedOption,
            };
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var (model, metadata) = Checkpoint.LoadModel(parse.GetValue(CheckpointOption)!);
                var generator = new TextGenerator(model, new CharTokenizer(metadata.Alphabet));
                var prompt = parse.GetValue(PromptOption)!;
                var text = generator.Generate(prompt, new SamplingOptions
                {
                    Length = parse.GetValue(LengthOption),
                    Temperature = parse.GetValue(TemperatureOption),
                    TopK = parse.GetValue(TopKOption),
                    Seed = parse.GetValue(SeedOption),
                });
                Console.WriteLine(prompt + text);
                return 0;
            }));
            return command;
        }
    }
}
