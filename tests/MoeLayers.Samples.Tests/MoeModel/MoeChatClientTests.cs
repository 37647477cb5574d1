using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.Extensions.AI;
using MoeLayers.Samples.MoeModel;
using MoeLayers.Samples.MoeModel.Chat;
using MoeLayers.Samples.MoeModel.Generation;
using MoeLayers.Samples.MoeModel.Text;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// The tiny qwen3_moe folder (weights, tokenizer, chat template) driven through Microsoft.Extensions.AI's
    /// <see cref="IChatClient"/>, against the same generation run by hand: template, encode, greedy tokens, decode.
    /// </summary>
    public sealed class MoeChatClientTests : IDisposable
    {
        private readonly IChatClient _client = MoeChatClient.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);

        private static readonly ChatMessage[] Conversation =
        {
            new(ChatRole.System, "You are terse."),
            new(ChatRole.User, "To be, or not to be?"),
        };

        public void Dispose() => _client.Dispose();

        /// <summary>What the client should answer greedily in at most <paramref name="limit"/> tokens, computed without it.</summary>
        private (string Text, int[] Ids, int PromptTokens) Expected(int limit)
        {
            var model = _client.GetService<MoeCausalLM>()!;
            var tokenizer = _client.GetService<ModelTokenizer>()!;
            var turns = Conversation.Select(m => new ChatTurn(m.Role.Value, m.Text)).ToList();
            var prompt = tokenizer.Encode(tokenizer.ApplyChatTemplate(turns), addSpecialTokens: false);
            var ids = new TextGenerator(model).Generate(prompt, new GenerationOptions { MaxNewTokens = limit, StopTokenIds = tokenizer.EosTokenIds.ToArray() })
                .Select(t => t.Id).ToArray();
            return (tokenizer.Decode(ids, skipSpecialTokens: true), ids, prompt.Count);
        }

        [Fact]
        public async Task A_response_is_the_greedy_generation_of_the_rendered_conversation()
        {
            var (text, ids, promptTokens) = Expected(limit: 24);
            var response = await _client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 24 });
            response.Text.Should().Be(text);
            response.Messages.Should().ContainSingle().Which.Role.Should().Be(ChatRole.Assistant);
            response.FinishReason.Should().Be(ids.Length == 24 ? ChatFinishReason.Length : ChatFinishReason.Stop);
            response.Usage!.InputTokenCount.Should().Be(promptTokens);
            response.Usage.OutputTokenCount.Should().Be(ids.Length);
            response.Usage.TotalTokenCount.Should().Be(promptTokens + ids.Length);
        }

        [Fact]
        public async Task Streaming_yields_the_same_text_piece_by_piece_with_the_finish_on_the_last_update()
        {
            var options = new ChatOptions { MaxOutputTokens = 24 };
            var updates = new List<ChatResponseUpdate>();
            await foreach (var update in _client.GetStreamingResponseAsync(Conversation, options)) updates.Add(update);
            string.Concat(updates.Select(u => u.Text)).Should().Be((await _client.GetResponseAsync(Conversation, options)).Text);
            updates.Count.Should().BeGreaterThan(1);
            updates.Take(updates.Count - 1).Should().OnlyContain(u => u.FinishReason == null);
            updates[^1].FinishReason.Should().NotBeNull();
            updates.Select(u => u.ResponseId).Distinct().Should().ContainSingle();
        }

        [Fact]
        public async Task A_stop_sequence_cuts_the_answer_before_it()
        {
            var (text, _, _) = Expected(limit: 24);
            text.Length.Should().BeGreaterThan(6, "the tiny model's greedy answer is long enough to cut");
            var stop = text.Substring(text.Length / 2, 2);
            var cut = text[..text.IndexOf(stop, StringComparison.Ordinal)];
            var response = await _client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 24, StopSequences = new[] { stop } });
            response.Text.Should().Be(cut);
            response.FinishReason.Should().Be(ChatFinishReason.Stop);
        }

        [Fact]
        public async Task A_seeded_sampled_answer_repeats()
        {
            var options = new ChatOptions { MaxOutputTokens = 16, Temperature = 1.2f, TopP = 0.9f, Seed = 11 };
            var first = (await _client.GetResponseAsync(Conversation, options)).Text;
            (await _client.GetResponseAsync(Conversation, options)).Text.Should().Be(first);
        }

        [Fact]
        public async Task What_the_sample_does_not_do_is_refused_by_name()
        {
            var tools = new ChatOptions { Tools = new List<AITool> { AIFunctionFactory.Create(() => 1, "one") } };
            await _client.Invoking(c => c.GetResponseAsync(Conversation, tools)).Should().ThrowAsync<NotSupportedException>().WithMessage("*Tools*");
            var image = new ChatMessage(ChatRole.User, new List<AIContent> { new DataContent(new byte[] { 1 }, "image/png") });
            await _client.Invoking(c => c.GetResponseAsync(new[] { image })).Should().ThrowAsync<NotSupportedException>().WithMessage("*DataContent*");
            await _client.Invoking(c => c.GetResponseAsync(new[] { new ChatMessage(ChatRole.Tool, "42") })).Should().ThrowAsync<NotSupportedException>().WithMessage("*role 'tool'*");
            await _client.Invoking(c => c.GetResponseAsync(Conversation, new ChatOptions { FrequencyPenalty = 0.5f })).Should().ThrowAsync<NotSupportedException>().WithMessage("*FrequencyPenalty*");
            await _client.Invoking(c => c.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 0 })).Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("MaxNewTokens");
        }

        [Fact]
        public void It_describes_itself_as_a_chat_client()
        {
            _client.GetService<ChatClientMetadata>()!.ProviderName.Should().Be("MoeLayers");
            _client.GetService<ChatClientMetadata>()!.DefaultModelId.Should().Be("qwen3_moe");
            _client.GetService<IChatClient>().Should().BeSameAs(_client);
            _client.GetService(typeof(ChatClientMetadata), "key").Should().BeNull();
        }
    }
}
