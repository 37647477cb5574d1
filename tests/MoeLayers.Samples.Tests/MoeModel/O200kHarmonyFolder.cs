using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The real gpt-oss tokenizer (o200k_harmony, 201,088 ids) as a Hugging Face tokenizer.json, built from the o200k
    /// ranks that Microsoft.ML.Tokenizers.Data.O200kBase ships: vocab = each rank's bytes in GPT-2's byte-to-unicode
    /// spelling, merges recovered from the ranks the way transformers' TikTokenConverter does
    /// (src/transformers/integrations/tiktoken.py / convert_slow_tokenizer.py: the two parts BPE leaves when only lower
    /// ranks may merge), the harmony special tokens at their ids, and the pre-tokenizer of the committed tiny gpt_oss
    /// fixture — so the test checks that fixture's split regex as well.
    /// </summary>
    internal static class O200kHarmonyFolder
    {
        private static readonly Lazy<string> Folder = new(Build);

        public static string Path => Folder.Value;

        private static string Build()
        {
            var ranks = ReadRanks();
            var byteToChar = BytesToUnicode();
            var vocab = new JsonObject();
            var merges = new JsonArray();
            foreach (var (token, rank) in ranks.OrderBy(kv => kv.Value))
            {
                vocab[Spell(token, byteToChar)] = rank;
                if (token.Length < 2) continue;
                var parts = Bpe(ranks, token, rank);
                if (parts.Count != 2) throw new InvalidOperationException($"rank {rank} does not split into a merge.");
                merges.Add(new JsonArray(Spell(parts[0], byteToChar), Spell(parts[1], byteToChar)));
            }

            var harmony = TiktokenTokenizer.CreateForEncoding("o200k_harmony");
            var added = new JsonArray();
            foreach (var (content, id) in harmony.SpecialTokens!.OrderBy(kv => kv.Value))
            {
                added.Add(new JsonObject
                {
                    ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = false, ["special"] = true,
                });
            }

            var fixture = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(TokenizerFixtures.Folder("gpt_oss"), "tokenizer.json")))!;
            var tokenizer = new JsonObject
            {
                ["version"] = "1.0",
                ["added_tokens"] = added,
                ["normalizer"] = null,
                ["pre_tokenizer"] = fixture["pre_tokenizer"]!.DeepClone(),
                ["post_processor"] = fixture["post_processor"]!.DeepClone(),
                ["decoder"] = fixture["decoder"]!.DeepClone(),
                ["model"] = new JsonObject
                {
                    ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "",
                    ["end_of_word_suffix"] = "", ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                    ["vocab"] = vocab, ["merges"] = merges,
                },
            };
            string folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "moelayers-o200k-harmony-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            File.WriteAllText(System.IO.Path.Combine(folder, "tokenizer.json"), tokenizer.ToJsonString());
            // The fixture's tokenizer_config.json carries gpt-oss's published chat template.
            File.Copy(System.IO.Path.Combine(TokenizerFixtures.Folder("gpt_oss"), "tokenizer_config.json"),
                System.IO.Path.Combine(folder, "tokenizer_config.json"));
            File.WriteAllText(System.IO.Path.Combine(folder, "config.json"),
                "{\"model_type\": \"gpt_oss\", \"vocab_size\": 201088, \"eos_token_id\": 200002, \"pad_token_id\": 199999}");
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
            };
            return folder;
        }

        /// <summary>o200k_base.tiktoken: base64(bytes) [rank] per line, bytes kept as Latin-1 strings (one char per byte).</summary>
        private static Dictionary<string, int> ReadRanks()
        {
            var assembly = Assembly.Load("Microsoft.ML.Tokenizers.Data.O200kBase");
            using var compressed = assembly.GetManifestResourceStream("o200k_base.tiktoken.deflate")
                ?? throw new InvalidOperationException("o200k_base.tiktoken.deflate is not in Microsoft.ML.Tokenizers.Data.O200kBase.");
            using var reader = new StreamReader(new DeflateStream(compressed, CompressionMode.Decompress));
            // The package's copy starts with a "Capacity: N" line and may leave the rank implicit (the line index).
            var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
            int next = 0;
            while (reader.ReadLine() is { } line)
            {
                if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
                var space = line.IndexOf(' ');
                int rank = space < 0 ? next : int.Parse(line[(space + 1)..]);
                ranks[Encoding.Latin1.GetString(Convert.FromBase64String(space < 0 ? line : line[..space]))] = rank;
                next = rank + 1;
            }
            return ranks;
        }

        /// <summary>BPE over the bytes of <paramref name="token"/> where only pairs of rank below <paramref name="maxRank"/> merge.</summary>
        private static List<string> Bpe(Dictionary<string, int> ranks, string token, int maxRank)
        {
            var parts = token.Select(c => c.ToString()).ToList();
            while (true)
            {
                int best = -1;
                int bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                {
                    if (ranks.TryGetValue(parts[i] + parts[i + 1], out int r) && r < maxRank && r < bestRank)
                    {
                        best = i;
                        bestRank = r;
                    }
                }
                if (best < 0) return parts;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
        }

        private static string Spell(string latin1Bytes, char[] byteToChar) =>
            new(latin1Bytes.Select(c => byteToChar[c]).ToArray());

        private static char[] BytesToUnicode()
        {
            var table = new char[256];
            int next = 0;
            for (int b = 0; b < 256; b++)
            {
                bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                table[b] = printable ? (char)b : (char)(256 + next++);
            }
            return table;
        }
    }
}
