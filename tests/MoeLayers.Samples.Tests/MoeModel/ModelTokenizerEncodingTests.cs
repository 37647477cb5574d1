using System.Linq;
using FluentAssertions;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// Token ids of the tiny family tokenizers against two independent references: the byte-level / metaspace BPE
    /// encoder of scripts/moemodel/make_tokenizers.py (expected_ids.json), and Hugging Face's own tokenizers library
    /// (Tokenizers.DotNet) opening the same tokenizer.json.
    /// </summary>
    public sealed class ModelTokenizerEncodingTests
    {
        public static TheoryData<string, string, int[], int[]> Cases()
        {
            var data = new TheoryData<string, string, int[], int[]>();
            foreach (var c in TokenizerFixtures.IdCases()) data.Add((string)c[0], (string)c[1], (int[])c[2], (int[])c[3]);
            return data;
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Encode_reproduces_the_reference_ids_with_and_without_special_tokens(string family, string text, int[] ids, int[] idsWithoutSpecialTokens)
        {
            using var tokenizer = TokenizerFixtures.Open(family);

            tokenizer.Encode(text).Should().Equal(ids);
            tokenizer.Encode(text, addSpecialTokens: false).Should().Equal(idsWithoutSpecialTokens);
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Encode_and_decode_agree_with_hugging_face_tokenizers(string family, string text, int[] ids, int[] idsWithoutSpecialTokens)
        {
            _ = idsWithoutSpecialTokens;
            using var tokenizer = TokenizerFixtures.Open(family);
            using var huggingFace = new Tokenizers.DotNet.Tokenizer(System.IO.Path.Combine(TokenizerFixtures.Folder(family), "tokenizer.json"));

            huggingFace.Encode(text).Select(i => (int)i).Should().Equal(ids);
            // Tokenizers.DotNet decodes with skip_special_tokens = true.
            tokenizer.Decode(ids, skipSpecialTokens: true).Should().Be(huggingFace.Decode(ids.Select(i => (uint)i).ToArray()));
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Decode_of_encode_gives_the_text_back(string family, string text, int[] ids, int[] idsWithoutSpecialTokens)
        {
            _ = ids;
            using var tokenizer = TokenizerFixtures.Open(family);
            bool hasAddedTokens = text.Contains('<') || text.Contains("[gMASK]");

            if (family == "mixtral")
            {
                // Mistral's metaspace tokenizer round-trips plain text; added tokens in the text change the spacing
                // around them (each piece gets its own ▁ prefix), as in Hugging Face.
                if (!hasAddedTokens) tokenizer.Decode(idsWithoutSpecialTokens).Should().Be(text);
                return;
            }
            string expected = family is "qwen3_moe" or "olmoe" ? text.Normalize(System.Text.NormalizationForm.FormC) : text;
            tokenizer.Decode(tokenizer.Encode(text)).Should().Be(expected);
        }

        [Fact]
        public void Byte_level_families_encode_through_microsoft_ml_tokenizers_and_mixtral_through_hugging_face_tokenizers()
        {
            foreach (var family in new[] { "qwen3_moe", "olmoe", "gpt_oss", "glm4_moe" })
            {
                using var tokenizer = TokenizerFixtures.Open(family);
                tokenizer.Kind.Should().Be(MoeLayers.Samples.MoeModel.Text.TokenizerKind.ByteLevelBpe);
                tokenizer.EncodingLibrary.Should().StartWith("Microsoft.ML.Tokenizers");
            }
            using var mixtral = TokenizerFixtures.Open("mixtral");
            mixtral.Kind.Should().Be(MoeLayers.Samples.MoeModel.Text.TokenizerKind.SentencePieceBpe);
            mixtral.EncodingLibrary.Should().StartWith("Tokenizers.DotNet");
        }

        [Fact]
        public void Decode_keeps_special_tokens_unless_asked_to_skip_them_and_qwen3_think_is_not_special()
        {
            using var qwen = TokenizerFixtures.Open("qwen3_moe");
            var ids = qwen.Encode("<|im_start|>assistant\n<think>\nhm\n</think>\n\nyes<|im_end|>");

            ids.First().Should().Be(497);
            ids.Last().Should().Be(498);
            qwen.Decode(ids).Should().Be("<|im_start|>assistant\n<think>\nhm\n</think>\n\nyes<|im_end|>");
            qwen.Decode(ids, skipSpecialTokens: true).Should().Be("assistant\n<think>\nhm\n</think>\n\nyes");

            using var mixtral = TokenizerFixtures.Open("mixtral");
            var mixtralIds = mixtral.Encode("Hello world");
            mixtralIds[0].Should().Be(1);
            mixtral.Decode(mixtralIds).Should().Be("<s> Hello world");
            mixtral.Decode(mixtralIds, skipSpecialTokens: true).Should().Be("Hello world");
        }

        [Fact]
        public void Token_and_id_lookups_cover_vocabulary_and_added_tokens()
        {
            using var glm = TokenizerFixtures.Open("glm4_moe");

            glm.TokenToId("[gMASK]").Should().Be(498);
            glm.TokenToId("<|observation|>").Should().Be(505);
            glm.TokenToId("H").Should().Be((int)'H');
            glm.TokenToId("no such token").Should().BeNull();
            glm.IdToToken(503).Should().Be("<|user|>");
            glm.IdToToken(10_000).Should().BeNull();
            glm.VocabularySize.Should().Be(506);
        }


        [Fact]
        public void Overlapping_added_tokens_split_leftmost_longest_as_hugging_face_does()
        {
            // GPT-NeoX-style tokenizers (OLMoE's) add whitespace runs as tokens; the longest run at a position wins.
            using var copy = TokenizerFixtures.CopyOf("olmoe");
            var tokenizerJson = System.Text.Json.Nodes.JsonNode.Parse(System.IO.File.ReadAllText(copy.File("tokenizer.json")))!;
            foreach (var (content, id) in new[] { ("  ", 498), ("   ", 499), ("<|pad", 500) })
            {
                tokenizerJson["added_tokens"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject
                {
                    ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = true, ["special"] = false,
                });
            }
            System.IO.File.WriteAllText(copy.File("tokenizer.json"), tokenizerJson.ToJsonString());
            using var tokenizer = MoeLayers.Samples.MoeModel.Text.ModelTokenizer.Open(copy.Path);
            using var huggingFace = new Tokenizers.DotNet.Tokenizer(copy.File("tokenizer.json"));

            foreach (var text in new[] { "a     b", "x  y   z", "<|padding|> <|pad", "    " })
            {
                tokenizer.Encode(text).Should().Equal(huggingFace.Encode(text).Select(i => (int)i), text);
            }
            tokenizer.Encode("a     b").Should().Equal(97, 499, 498, 98);
        }
    }
}
