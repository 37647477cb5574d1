using System.CommandLine;
using MoeLayers.Samples.MoeModel.Generation;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>The sampling options of generate and chat: unset ones take the folder's generation_config.json values.</summary>
    internal sealed class SamplingArguments
    {
        public Option<double?> Temperature { get; } = new("--temperature") { Description = "Softmax temperature; 0 is greedy. Default: generation_config.json (greedy without do_sample)." };

        public Option<double?> TopP { get; } = new("--top-p") { Description = "Nucleus sampling: keep the most likely tokens up to this probability mass, in (0, 1]." };

        public Option<int?> TopK { get; } = new("--top-k") { Description = "Keep only the k most likely tokens (0 = all)." };

        public Option<long?> Seed { get; } = new("--seed") { Description = "Sampling seed: the same folder, prompt, options and seed give the same text.", DefaultValueFactory = _ => 1234 };

        public Option<bool> Greedy { get; } = new("--greedy") { Description = "Always the most likely token, whatever generation_config.json says." };

        public Option[] All => new Option[] { Temperature, TopP, TopK, Seed, Greedy };

        /// <summary>The folder's sampling with the given options laid over it.</summary>
        public SamplingOptions Resolve(ParseResult parse, string folder)
        {
            if (parse.GetValue(Greedy)) return SamplingOptions.Greedy;
            var defaults = GenerationConfigDefaults.Read(folder);
            var temperature = parse.GetValue(Temperature);
            var options = defaults with
            {
                Temperature = temperature ?? defaults.Temperature,
                TopP = parse.GetValue(TopP) ?? defaults.TopP,
                TopK = parse.GetValue(TopK) ?? defaults.TopK,
                Seed = parse.GetValue(Seed),
            };
            options.Validate();
            return options;
        }
    }
}
