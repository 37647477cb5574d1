using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The committed tokenizer folders of scripts/moemodel/make_tokenizers.py (tests/fixtures/moe-models/tokenizers),
    /// found by walking up from the test assembly's folder, with the script's reference ids and jinja2 renderings.
    /// </summary>
    internal static class TokenizerFixtures
    {
        public static readonly string[] Families = { "qwen3_moe", "olmoe", "gpt_oss", "glm4_moe", "mixtral" };

        private static readonly Lazy<string> Root = new(() =>
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "tests", "fixtures", "moe-models", "tokenizers");
                if (Directory.Exists(candidate)) return candidate;
            }

            throw new DirectoryNotFoundException(
                $"tests/fixtures/moe-models/tokenizers was not found above '{AppContext.BaseDirectory}'; run the tests from a checkout of the repository.");
        });

        public static string Folder(string family) => Path.Combine(Root.Value, family);

        public static ModelTokenizer Open(string family) => ModelTokenizer.Open(Folder(family));

        /// <summary>expected_ids.json: family, text, ids (with special tokens), ids_without_special_tokens.</summary>
        public static IEnumerable<object[]> IdCases()
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Root.Value, "expected_ids.json")));
            return document.RootElement.EnumerateArray().Select(c => new object[]
            {
                c.GetProperty("family").GetString()!,
                c.GetProperty("text").GetString()!,
                c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
                c.GetProperty("ids_without_special_tokens").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
            }).ToList();
        }

        /// <summary>chat_templates.json: one case per rendering, with the date the gpt-oss renderings used.</summary>
        public static IEnumerable<object[]> ChatCases()
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Root.Value, "chat_templates.json")));
            var date = DateOnly.Parse(document.RootElement.GetProperty("current_date").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            return document.RootElement.GetProperty("cases").EnumerateArray().Select(c =>
            {
                string family = c.GetProperty("family").GetString()!;
                var messages = c.GetProperty("messages").EnumerateArray()
                    .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToArray();
                JsonElement o = c.GetProperty("options");
                var options = new ChatTemplateOptions
                {
                    AddGenerationPrompt = c.GetProperty("add_generation_prompt").GetBoolean(),
                    EnableThinking = o.TryGetProperty("enable_thinking", out var thinking) ? thinking.GetBoolean() : null,
                    ReasoningEffort = o.TryGetProperty("reasoning_effort", out var effort) ? effort.GetString() : null,
                    ModelIdentity = o.TryGetProperty("model_identity", out var identity) ? identity.GetString() : null,
                    CurrentDate = family == "gpt_oss" ? date : null,
                };
                string name = $"{family}/{c.GetProperty("conversation").GetString()} {o.GetRawText()} gen={options.AddGenerationPrompt}";
                return new object[] { name, family, messages, options, c.GetProperty("expected").GetString()! };
            }).ToList();
        }

        /// <summary>A copy of a family's folder in a temp folder, for tests that break one of its files.</summary>
        public static TempFolder CopyOf(string family)
        {
            var copy = new TempFolder();
            foreach (var file in Directory.GetFiles(Folder(family)))
            {
                File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
            }
            return copy;
        }
    }
}
