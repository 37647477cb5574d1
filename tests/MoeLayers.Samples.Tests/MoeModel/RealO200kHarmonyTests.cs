using System;
using System.IO;
using FluentAssertions;
using Microsoft.ML.Tokenizers;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The real gpt-oss vocabulary (o200k_harmony) through the sample's tokenizer.json path, against published ids and
    /// against tiktoken's encoding as Microsoft.ML.Tokenizers implements it (TiktokenTokenizer, o200k_harmony).
    /// </summary>
    public sealed class RealO200kHarmonyTests
    {
        private static readonly Lazy<ModelTokenizer> GptOss = new(() => ModelTokenizer.Open(O200kHarmonyFolder.Path));
        private static readonly Lazy<TiktokenTokenizer> Tiktoken = new(() => TiktokenTokenizer.CreateForEncoding("o200k_harmony"));

        [Fact]
        public void Published_o200k_ids_and_harmony_special_ids_are_reproduced()
        {
            // dotnet/machinelearning test/Microsoft.ML.Tokenizers.Tests/TiktokenTests.cs (commit 0996505),
            // TestEncodeO200kBaseEncoding: the o200k ids of this text.
            GptOss.Value.Encode("<|endoftext|>Hello ⭐ World<|endofprompt|>")
                .Should().Equal(199999, 13225, 161181, 5922, 200018);
            // The harmony response format's special tokens (OpenAI cookbook "OpenAI Harmony Response Format").
            foreach (var (token, id) in new[]
            {
                ("<|start|>", 200006), ("<|end|>", 200007), ("<|message|>", 200008), ("<|channel|>", 200005),
                ("<|constrain|>", 200003), ("<|return|>", 200002), ("<|call|>", 200012),
            })
            {
                GptOss.Value.TokenToId(token).Should().Be(id, token);
            }
        }

        [Fact]
        public void Shakespeare_multilingual_text_and_a_harmony_prompt_encode_as_tiktoken_does()
        {
            string shakespeare = File.ReadAllText(ShakespearePath())[..20_000];
            var texts = new[]
            {
                shakespeare,
                "naïve café — 中文字符, Ελληνικά, русский, emoji 🙂👍🏽, ✓ and 日本語のテキスト。",
                "CamelCaseWords HTTPServer's ALLCAPS don't I'M 12345678 3.14159 path/to/file.txt\r\n\r\n  \t x",
                "    def f(x):\n        return x ** 2  # comment\n\n\n",
                GptOss.Value.ApplyChatTemplate(new[] { new ChatTurn(ChatTurn.User, "Who art thou?") },
                    new ChatTemplateOptions { CurrentDate = new DateOnly(2026, 1, 15) }),
            };

            foreach (var text in texts)
            {
                var ids = GptOss.Value.Encode(text);
                ids.Should().Equal(Tiktoken.Value.EncodeToIds(text), text.Length > 60 ? text[..60] : text);
                GptOss.Value.Decode(ids).Should().Be(text);
            }
        }

        private static string ShakespearePath()
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "samples", "TinyShakespeare", "data", "input.txt");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException("samples/TinyShakespeare/data/input.txt was not found above the test assembly.");
        }
    }
}
