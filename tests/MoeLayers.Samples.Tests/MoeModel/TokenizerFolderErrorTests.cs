using System;
using System.IO;
using System.Text.Json.Nodes;
using FluentAssertions;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// Unreadable or unsupported folder content: each error names the file and the key, and is raised while opening,
    /// before any library sees the file.
    /// </summary>
    public sealed class TokenizerFolderErrorTests
    {
        private static void Edit(TempFolder folder, string file, Action<JsonObject> edit)
        {
            var json = JsonNode.Parse(File.ReadAllText(folder.File(file)))!.AsObject();
            edit(json);
            File.WriteAllText(folder.File(file), json.ToJsonString());
        }

        private static JsonObject Model(JsonObject tokenizer) => tokenizer["model"]!.AsObject();

        [Fact]
        public void A_missing_tokenizer_json_is_named()
        {
            using var copy = TokenizerFixtures.CopyOf("qwen3_moe");
            File.Delete(copy.File("tokenizer.json"));

            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<FileNotFoundException>()
                .WithMessage("*tokenizer.json not found: the model folder needs Hugging Face's tokenizer.json*");
        }

        [Fact]
        public void A_missing_config_json_or_model_type_is_named()
        {
            using var copy = TokenizerFixtures.CopyOf("olmoe");
            Edit(copy, "config.json", c => c.Remove("model_type"));
            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<InvalidDataException>()
                .WithMessage("config.json: 'model_type' is missing or null.");

            File.Delete(copy.File("config.json"));
            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<FileNotFoundException>()
                .WithMessage("*config.json not found*model_type*");
        }

        [Fact]
        public void Json_that_does_not_parse_is_named()
        {
            using var copy = TokenizerFixtures.CopyOf("gpt_oss");
            File.WriteAllText(copy.File("tokenizer.json"), "{ \"model\": ");

            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<InvalidDataException>()
                .WithMessage("*tokenizer.json is not valid JSON*");
        }

        [Theory]
        [InlineData("model.type", "*tokenizer.json: model.type 'Unigram' is not supported (supported: BPE).")]
        [InlineData("pre_tokenizer", "*tokenizer.json: pre_tokenizer.type 'Whitespace' is not supported*")]
        [InlineData("split behavior", "*tokenizer.json: pre_tokenizer.pretokenizers[0] Split with behavior 'Removed' is not supported*")]
        [InlineData("decoder", "*tokenizer.json: decoder.type 'WordPiece' is not supported with a byte-level pre-tokenizer*")]
        [InlineData("normalizer", "*tokenizer.json: normalizer.type 'Lowercase' is not supported for byte-level BPE*")]
        [InlineData("merges", "tokenizer.json: 'model.merges[0]' must be \"left right\" or [\"left\", \"right\"]*")]
        [InlineData("vocab", "tokenizer.json: 'model.vocab' entry \"H\" must map to a non-negative id, not -1.")]
        [InlineData("added lstrip", "tokenizer.json: 'added_tokens[1].lstrip' true is not supported (token <|im_start|>).")]
        [InlineData("post_processor", "*tokenizer.json: post_processor.type 'RobertaProcessing' is not supported*")]
        [InlineData("dropout", "*tokenizer.json: model.dropout 0.1 is not supported*")]
        public void Unsupported_tokenizer_json_content_is_refused_naming_the_key(string change, string message)
        {
            using var copy = TokenizerFixtures.CopyOf("qwen3_moe");
            Edit(copy, "tokenizer.json", t =>
            {
                switch (change)
                {
                    case "model.type": Model(t)["type"] = "Unigram"; break;
                    case "pre_tokenizer": t["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" }; break;
                    case "split behavior": t["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "Removed"; break;
                    case "decoder": t["decoder"] = new JsonObject { ["type"] = "WordPiece" }; break;
                    case "normalizer": t["normalizer"] = new JsonObject { ["type"] = "Lowercase" }; break;
                    case "merges": Model(t)["merges"]![0] = "nospace"; break;
                    case "vocab": Model(t)["vocab"]!["H"] = -1; break;
                    case "added lstrip": t["added_tokens"]![1]!["lstrip"] = true; break;
                    case "post_processor": t["post_processor"] = new JsonObject { ["type"] = "RobertaProcessing" }; break;
                    case "dropout": Model(t)["dropout"] = 0.1; break;
                }
            });

            var act = () => ModelTokenizer.Open(copy.Path);

            act.Should().Throw<Exception>().Where(e => e is NotSupportedException || e is InvalidDataException)
                .WithMessage(message);
        }

        [Fact]
        public void A_byte_fallback_file_with_another_decoder_is_refused_naming_the_decoder()
        {
            using var copy = TokenizerFixtures.CopyOf("mixtral");
            Edit(copy, "tokenizer.json", t => t["decoder"]!["decoders"]!.AsArray().RemoveAt(2));

            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<NotSupportedException>()
                .WithMessage("*tokenizer.json: decoder [Replace, ByteFallback, Strip] is not supported with byte fallback*");
        }

        [Fact]
        public void Token_ids_in_config_files_are_checked_naming_file_and_key()
        {
            using var copy = TokenizerFixtures.CopyOf("glm4_moe");
            Edit(copy, "generation_config.json", g => g["eos_token_id"]![1] = "x");

            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<InvalidDataException>()
                .WithMessage("generation_config.json: 'eos_token_id[1]' must be a non-negative integer token id, not x.");
        }

        [Fact]
        public void An_eos_token_string_that_is_not_a_token_is_named()
        {
            using var copy = TokenizerFixtures.CopyOf("mixtral");
            Edit(copy, "tokenizer_config.json", c => c["eos_token"] = "<|not-a-token|>");

            FluentActions.Invoking(() => ModelTokenizer.Open(copy.Path)).Should().Throw<InvalidDataException>()
                .WithMessage("tokenizer_config.json: 'eos_token' is \"<|not-a-token|>\", which is not a token of tokenizer.json.");
        }

        [Fact]
        public void Ids_without_a_token_decode_to_nothing_as_in_hugging_face_tokenizers_and_negative_ids_are_refused()
        {
            // Published models pad their vocabulary beyond the tokenizer's ids (Qwen3: 151,936 rows for 151,669 ids), so
            // a sampled id may have no token; Hugging Face's decode leaves such ids out.
            using var tokenizer = TokenizerFixtures.Open("olmoe");
            tokenizer.Decode(new[] { 72, 9999, 105 }).Should().Be(tokenizer.Decode(new[] { 72, 105 }));
            FluentActions.Invoking(() => tokenizer.Decode(new[] { 72, -1 })).Should().Throw<ArgumentOutOfRangeException>()
                .WithMessage("ids[1] = -1 is negative; token ids are ≥ 0.*");
        }
    }
}
