using System;
using System.IO;
using FluentAssertions;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The per-family C# chat templates against the published Jinja templates rendered by jinja2 the way
    /// transformers' apply_chat_template renders them (chat_templates.json, scripts/moemodel/make_tokenizers.py), and
    /// the refusals of what lies outside the plain-text subset.
    /// </summary>
    public sealed class ChatTemplateTests
    {
        private static readonly ChatTurn[] UserOnly = { new(ChatTurn.User, "Who art thou?") };

        public static TheoryData<string, string, ChatTurn[], ChatTemplateOptions, string> Cases()
        {
            var data = new TheoryData<string, string, ChatTurn[], ChatTemplateOptions, string>();
            foreach (var c in TokenizerFixtures.ChatCases())
            {
                data.Add((string)c[0], (string)c[1], (ChatTurn[])c[2], (ChatTemplateOptions)c[3], (string)c[4]);
            }
            return data;
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Renders_what_the_published_jinja_template_renders(string name, string family, ChatTurn[] messages,
            ChatTemplateOptions options, string expected)
        {
            using var tokenizer = TokenizerFixtures.Open(family);

            tokenizer.ApplyChatTemplate(messages, options).Should().Be(expected, name);
        }

        [Fact]
        public void Every_family_has_its_template()
        {
            foreach (var family in TokenizerFixtures.Families)
            {
                using var tokenizer = TokenizerFixtures.Open(family);
                tokenizer.ChatTemplate.Should().NotBeNull(family);
                tokenizer.ChatTemplate!.ModelType.Should().Be(family);
            }
        }

        [Theory]
        [InlineData("qwen3_moe", true)]
        [InlineData("mixtral", true)]
        [InlineData("gpt_oss", true)]
        [InlineData("olmoe", false)]
        [InlineData("glm4_moe", false)]
        public void An_empty_conversation_is_refused_where_the_published_template_reads_the_first_message(string family, bool refused)
        {
            using var tokenizer = TokenizerFixtures.Open(family);
            var act = () => tokenizer.ApplyChatTemplate(Array.Empty<ChatTurn>());

            if (refused)
            {
                act.Should().Throw<ArgumentException>().WithMessage($"{family}'s chat template reads messages[0]: it needs at least one message.*");
            }
            else
            {
                // Tulu renders the bos alone (null here); GLM-4.5 its prefix and the generation prompt, as jinja2 does.
                act().Should().Be(family == "olmoe" ? "" : "[gMASK]<sop><|assistant|>");
            }
        }

        [Fact]
        public void Harmony_writes_today_when_no_date_is_given()
        {
            using var tokenizer = TokenizerFixtures.Open("gpt_oss");

            var before = DateOnly.FromDateTime(DateTime.Now).ToString("yyyy-MM-dd");
            var prompt = tokenizer.ApplyChatTemplate(UserOnly);
            var after = DateOnly.FromDateTime(DateTime.Now).ToString("yyyy-MM-dd");

            prompt.Should().Match(p => p.Contains("Current date: " + before + "\n") || p.Contains("Current date: " + after + "\n"));
        }

        [Theory]
        [InlineData("qwen3_moe")]
        [InlineData("olmoe")]
        [InlineData("gpt_oss")]
        [InlineData("glm4_moe")]
        [InlineData("mixtral")]
        public void A_tool_message_is_refused_by_role(string family)
        {
            using var tokenizer = TokenizerFixtures.Open(family);
            var messages = new[] { new ChatTurn(ChatTurn.User, "weather?"), new ChatTurn("tool", "sunny") };

            var act = () => tokenizer.ApplyChatTemplate(messages);

            act.Should().Throw<NotSupportedException>().WithMessage("messages[1] has role 'tool'*tools, tool calls and images are not supported*");
        }

        [Theory]
        [InlineData("mixtral", "EnableThinking")]
        [InlineData("olmoe", "EnableThinking")]
        [InlineData("gpt_oss", "EnableThinking")]
        [InlineData("qwen3_moe", "ReasoningEffort")]
        [InlineData("glm4_moe", "CurrentDate")]
        public void An_option_the_family_template_does_not_read_is_refused_by_name(string family, string option)
        {
            using var tokenizer = TokenizerFixtures.Open(family);
            var options = option switch
            {
                "EnableThinking" => new ChatTemplateOptions { EnableThinking = false },
                "ReasoningEffort" => new ChatTemplateOptions { ReasoningEffort = "high" },
                _ => new ChatTemplateOptions { CurrentDate = new DateOnly(2026, 1, 1) },
            };

            var act = () => tokenizer.ApplyChatTemplate(UserOnly, options);

            act.Should().Throw<NotSupportedException>().WithMessage($"ChatTemplateOptions.{option} is not a parameter of {family}'s chat template*");
        }

        [Fact]
        public void Mixtral_refuses_non_alternating_roles_with_the_template_message()
        {
            using var tokenizer = TokenizerFixtures.Open("mixtral");
            var twoUsers = new[] { new ChatTurn(ChatTurn.User, "a"), new ChatTurn(ChatTurn.User, "b") };
            var lateSystem = new[] { new ChatTurn(ChatTurn.User, "a"), new ChatTurn(ChatTurn.System, "b") };

            FluentActions.Invoking(() => tokenizer.ApplyChatTemplate(twoUsers)).Should().Throw<ArgumentException>()
                .WithMessage("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...*");
            FluentActions.Invoking(() => tokenizer.ApplyChatTemplate(lateSystem)).Should().Throw<ArgumentException>()
                .WithMessage("Only user and assistant roles are supported, with the exception of an initial optional system message!*");
        }

        [Fact]
        public void Harmony_refuses_a_later_system_message_and_channel_tags_in_content()
        {
            using var tokenizer = TokenizerFixtures.Open("gpt_oss");
            var lateSystem = new[] { new ChatTurn(ChatTurn.User, "a"), new ChatTurn(ChatTurn.System, "b") };
            var tagged = new[] { new ChatTurn(ChatTurn.User, "a"), new ChatTurn(ChatTurn.Assistant, "<|channel|>final<|message|>b") };

            FluentActions.Invoking(() => tokenizer.ApplyChatTemplate(lateSystem)).Should().Throw<NotSupportedException>()
                .WithMessage("messages[1] has role 'system': gpt-oss's chat template renders a system or developer message only as the first message.");
            FluentActions.Invoking(() => tokenizer.ApplyChatTemplate(tagged)).Should().Throw<ArgumentException>()
                .WithMessage("You have passed a message containing <|channel|> tags in the content field.*");
        }

        [Fact]
        public void A_folder_whose_template_is_not_the_published_one_is_refused_naming_the_file()
        {
            using var copy = TokenizerFixtures.CopyOf("qwen3_moe");
            var config = File.ReadAllText(copy.File("tokenizer_config.json"));
            File.WriteAllText(copy.File("tokenizer_config.json"), config.Replace("enable_thinking", "enable_reasoning"));
            using var tokenizer = ModelTokenizer.Open(copy.Path);

            tokenizer.ChatTemplate.Should().BeNull();
            FluentActions.Invoking(() => tokenizer.ApplyChatTemplate(UserOnly)).Should().Throw<NotSupportedException>()
                .WithMessage("tokenizer_config.json chat_template is not the published qwen3_moe chat template this sample reproduces in C# (it lacks \"enable_thinking\")*");
        }

        [Fact]
        public void A_base_model_folder_without_a_chat_template_says_so()
        {
            using var copy = TokenizerFixtures.CopyOf("olmoe");
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(copy.File("tokenizer_config.json")))!.AsObject();
            config.Remove("chat_template");
            File.WriteAllText(copy.File("tokenizer_config.json"), config.ToJsonString());
            using var tokenizer = ModelTokenizer.Open(copy.Path);

            FluentActions.Invoking(() => tokenizer.ApplyChatTemplate(UserOnly)).Should().Throw<NotSupportedException>()
                .WithMessage("*has no chat template*a base model, not a chat model.");
        }

        [Fact]
        public void A_chat_template_jinja_file_is_read_when_tokenizer_config_has_none()
        {
            using var copy = TokenizerFixtures.CopyOf("gpt_oss");
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(copy.File("tokenizer_config.json")))!.AsObject();
            var template = config["chat_template"]!.GetValue<string>();
            config.Remove("chat_template");
            File.WriteAllText(copy.File("tokenizer_config.json"), config.ToJsonString());
            File.WriteAllText(copy.File("chat_template.jinja"), template);
            using var tokenizer = ModelTokenizer.Open(copy.Path);

            tokenizer.ChatTemplate.Should().BeOfType<HarmonyChatTemplate>();
        }
    }
}
