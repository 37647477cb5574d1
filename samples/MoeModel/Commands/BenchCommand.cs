using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using MoeLayers.Samples.MoeModel.Generation;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>
    /// <c>bench</c>: prefill and decode tokens/s of a slice of Qwen3-30B-A3B with its real widths (d = 2048, 32 query and
    /// 4 key/value heads of 128, 128 experts of width 768, top-8, vocabulary 151,936; random weights; N layers), in
    /// float32 and bfloat16, beside the transcribed PyTorch forward (scripts/moemodel/speed_reference.py, float32) in the
    /// same run, and the decode limit the machine's read bandwidth sets: the bytes one token must read (every weight
    /// outside the experts, one embedding row, k of E experts per MoE layer) over the measured bandwidth.
    /// </summary>
    internal static class BenchCommand
    {
        public static Command Create()
        {
            var layers = new Option<int>("--layers") { Description = "Decoder layers of the slice (all MoE).", DefaultValueFactory = _ => 2 };
            var dtypes = new Option<string>("--dtypes") { Description = "Comma-separated: f32, bf16.", DefaultValueFactory = _ => "f32,bf16" };
            var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length of the prefill.", DefaultValueFactory = _ => 128 };
            var decodeTokens = new Option<int>("--decode-tokens") { Description = "Tokens decoded after the prefill.", DefaultValueFactory = _ => 16 };
            var rounds = new Option<int>("--rounds") { Description = "Rounds per case (medians).", DefaultValueFactory = _ => 3 };
            var python = new Option<string?>("--python") { Description = "Python with torch for the PyTorch side (default /usr/bin/python3; 'none' skips it)." };
            var command = new Command("bench", "Prefill and decode tokens/s on a Qwen3-30B-A3B slice, beside PyTorch and the bandwidth limit.")
            {
                layers, dtypes, promptTokens, decodeTokens, rounds, python,
            };
            command.SetAction(parse => CommandErrors.Run(() =>
            {
                var (layerCount, prompt, decode, roundCount) = (parse.GetValue(layers), parse.GetValue(promptTokens), parse.GetValue(decodeTokens), parse.GetValue(rounds));
                if (layerCount < 1) throw new ArgumentOutOfRangeException(nameof(layers), layerCount, "--layers must be ≥ 1.");
                if (prompt < 1 || decode < 1 || roundCount < 1) throw new ArgumentOutOfRangeException(nameof(rounds), "--prompt-tokens, --decode-tokens and --rounds must be ≥ 1.");
                var kinds = parse.GetValue(dtypes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var scalarTypes = kinds.Select(ModelArguments.ParseDType).ToArray();
                var config = SliceConfig(layerCount);
                var bandwidth = ReadBandwidth();
                Console.WriteLine($"# Qwen3-30B-A3B slice: {layerCount} MoE layers, d 2048, 128 experts of 768, top-8, vocab 151936, random weights; "
                    + $"prompt {prompt}, decode {decode}, {roundCount} rounds (medians); torch threads {get_num_threads()}");
                Console.WriteLine($"# read bandwidth {bandwidth / 1e9:F1} GB/s (torch sum of 512 MiB, median of 7)");
                Console.WriteLine("| side | dtype | prefill tokens/s | decode tokens/s | bytes per decoded token | bandwidth limit, tokens/s | share of limit |");
                Console.WriteLine("|---|---|---|---|---|---|---|");
                var elementsPerToken = 0.0;
                foreach (var (name, dtype) in kinds.Zip(scalarTypes))
                {
                    var (prefillRate, decodeRate, bytes, elements) = Measure(config, dtype, prompt, decode, roundCount);
                    elementsPerToken = elements;
                    var limit = bandwidth / bytes;
                    Console.WriteLine($"| MoeLayers | {name} | {prefillRate:F1} | {decodeRate:F2} | {bytes / 1e6:F0} MB | {limit:F2} | {decodeRate / limit:P0} |");
                }
                var interpreter = parse.GetValue(python) ?? "/usr/bin/python3";
                if (interpreter != "none") Console.WriteLine(PyTorchRow(interpreter, config, prompt, decode, roundCount, bandwidth, 4 * elementsPerToken));
                return 0;
            }));
            return command;
        }

        /// <summary>Qwen3-30B-A3B's config.json with <paramref name="layers"/> layers.</summary>
        internal static string SliceConfig(int layers) => JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "Qwen3MoeForCausalLM" }, ["model_type"] = "qwen3_moe", ["hidden_size"] = 2048,
            ["intermediate_size"] = 6144, ["moe_intermediate_size"] = 768, ["num_hidden_layers"] = layers, ["num_attention_heads"] = 32,
            ["num_key_value_heads"] = 4, ["head_dim"] = 128, ["vocab_size"] = 151936, ["max_position_embeddings"] = 40960,
            ["rms_norm_eps"] = 1e-6, ["rope_theta"] = 1000000.0, ["rope_scaling"] = null, ["attention_bias"] = false,
            ["decoder_sparse_step"] = 1, ["mlp_only_layers"] = Array.Empty<int>(), ["num_experts"] = 128, ["num_experts_per_tok"] = 8,
            ["norm_topk_prob"] = true, ["tie_word_embeddings"] = false, ["bos_token_id"] = 151643, ["eos_token_id"] = 151645,
            ["hidden_act"] = "silu", ["torch_dtype"] = "bfloat16",
        });

        private static (double Prefill, double Decode, double BytesPerToken, double ElementsPerToken) Measure(string json, ScalarType dtype, int prompt, int decode, int rounds)
        {
            using var model = new MoeCausalLM(MoeModelConfig.Parse(json, "Qwen3-30B-A3B slice"), dtype);
            model.eval();
            var random = new Random(11);
            var generator = new TextGenerator(model);
            var (prefill, decodeRates) = (new List<double>(), new List<double>());
            for (var round = 0; round < rounds + 1; round++)
            {
                var ids = Enumerable.Range(0, prompt).Select(_ => random.Next(model.Config.VocabSize)).ToArray();
                var last = generator.Generate(ids, new GenerationOptions { MaxNewTokens = decode + 1 }).Last().Statistics;
                if (round == 0) continue; // warm-up
                prefill.Add(last.PrefillTokensPerSecond);
                decodeRates.Add(last.DecodeTokensPerSecond);
            }
            return (Median(prefill), Median(decodeRates), PerToken(model, bytes: true), PerToken(model, bytes: false));
        }

        /// <summary>
        /// Bytes (or elements) one decoded token reads: every weight outside the experts, one embedding row, k/E of each
        /// expert bank.
        /// </summary>
        private static double PerToken(MoeCausalLM model, bool bytes)
        {
            var moe = model.Config.Moe;
            double total = 0;
            foreach (var (name, parameter) in model.named_parameters())
            {
                var size = (double)parameter.numel() * (bytes ? parameter.element_size() : 1);
                total += name.EndsWith("embed_tokens.weight", StringComparison.Ordinal) ? size / model.Config.VocabSize
                    : name.Contains(".experts.", StringComparison.Ordinal) ? size * moe.TopK / moe.NumExperts
                    : size;
            }
            return total;
        }

        private static double ReadBandwidth()
        {
            using var buffer = ones(128L << 20, ScalarType.Float32);
            buffer.sum().Dispose();
            var seconds = Enumerable.Range(0, 7).Select(_ =>
            {
                var watch = Stopwatch.StartNew();
                buffer.sum().Dispose();
                return watch.Elapsed.TotalSeconds;
            }).ToList();
            return buffer.numel() * 4.0 / Median(seconds);
        }

        private static string PyTorchRow(string python, string config, int prompt, int decode, int rounds, double bandwidth, double bytes)
        {
            var script = FindScript();
            var configPath = Path.Combine(Path.GetTempPath(), $"moemodel-bench-{Environment.ProcessId}.json");
            File.WriteAllText(configPath, config);
            try
            {
                var start = new ProcessStartInfo(python)
                {
                    ArgumentList = { script, "--config", configPath, "--prompt-tokens", prompt.ToString(), "--decode-tokens", decode.ToString(),
                        "--rounds", rounds.ToString(), "--threads", get_num_threads().ToString() },
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}.");
                var error = process.StandardError.ReadToEndAsync();
                var output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) return $"| PyTorch | f32 | failed ({python} exited {process.ExitCode}: {error.Result.Trim().Split('\n').LastOrDefault()}) | | | | |";
                using var result = JsonDocument.Parse(output.Trim().Split('\n').Last());
                var root = result.RootElement;
                var decodeRate = root.GetProperty("decode_tokens_per_s").GetDouble();
                return $"| PyTorch {root.GetProperty("torch").GetString()} ({root.GetProperty("blas").GetString()}), transformers' per-expert loop | f32 | "
                    + $"{root.GetProperty("prefill_tokens_per_s").GetDouble():F1} | {decodeRate:F2} | {bytes / 1e6:F0} MB | {bandwidth / bytes:F2} | {decodeRate / (bandwidth / bytes):P0} |";
            }
            finally
            {
                File.Delete(configPath);
            }
        }

        private static string FindScript()
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "scripts", "moemodel", "speed_reference.py");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException($"scripts/moemodel/speed_reference.py was not found above '{AppContext.BaseDirectory}'; run bench from a checkout of the repository, or pass --python none.");
        }

        private static double Median(IReadOnlyList<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}
