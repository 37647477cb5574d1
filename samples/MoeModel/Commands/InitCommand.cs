using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>
    /// <c>init</c>: a model folder with fresh random weights, from a folder's config.json with fields overridden
    /// (<c>--set hidden_size=512</c>), and its generation and tokenizer files: a model of any shape to benchmark or to
    /// train from scratch, offline.
    /// </summary>
    internal static class InitCommand
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var output = new Option<string>("--output") { Description = "The folder to write (created, or replaced as a whole).", Required = true };
            var set = new Option<string[]>("--set") { Description = "A config.json field to override, as name=value (value as JSON: 512, true, [0, 1], \"text\"); repeatable.", AllowMultipleArgumentsPerToken = false };
            var seed = new Option<int>("--seed") { Description = "The seed of the weights.", DefaultValueFactory = _ => 0 };
            var dtype = new Option<string>("--dtype") { Description = "Storage dtype: bf16, f16 or f32.", DefaultValueFactory = _ => "f32" };
            var command = new Command("init", "Write a model folder with fresh random weights, from a folder's config with fields overridden.") { folder, output, set, seed, dtype };
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var source = parse.GetValue(folder)!;
                var configPath = Path.Combine(source, "config.json");
                if (!File.Exists(configPath)) throw new FileNotFoundException($"'{source}' has no config.json.", configPath);
                var root = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
                foreach (var assignment in parse.GetValue(set) ?? Array.Empty<string>())
                {
                    var equals = assignment.IndexOf('=');
                    if (equals <= 0) throw new ArgumentException($"--set '{assignment}': expected name=value.", nameof(set));
                    var (name, text) = (assignment[..equals].Trim(), assignment[(equals + 1)..].Trim());
                    if (!root.ContainsKey(name)) throw new ArgumentException($"--set '{assignment}': {configPath} has no field '{name}' to override.", nameof(set));
                    root[name] = ParseValue(text);
                }
                var config = MoeModelConfig.Parse(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", $"{configPath} with --set");
                var storage = ModelArguments.ParseDType(parse.GetValue(dtype)!);
                manual_seed(parse.GetValue(seed));
                using var model = new MoeCausalLM(config, storage);
                var target = parse.GetValue(output)!;
                model.Save(target, source, storage);
                var parameters = model.parameters().Sum(p => p.numel());
                Console.WriteLine($"wrote {target}: {config.ModelType}, {config.NumLayers} layers ({config.Moe.MoeLayerIndices.Count} MoE, {config.Moe.NumExperts} experts), "
                    + $"d = {config.HiddenSize}, {parameters:N0} parameters, {storage}");
                return 0;
            }));
            return command;
        }

        /// <summary>The value as JSON when it parses as JSON (numbers, booleans, null, lists, quoted strings), else as a string.</summary>
        private static JsonNode? ParseValue(string text)
        {
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                return JsonValue.Create(text);
            }
        }
    }
}
