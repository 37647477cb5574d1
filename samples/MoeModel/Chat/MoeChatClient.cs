using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.AI;
using MoeLayers.Samples.MoeModel.Generation;
using MoeLayers.Samples.MoeModel.Text;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Chat
{
    /// <summary>
    /// A model folder as a Microsoft.Extensions.AI <see cref="IChatClient"/>: an application written against that
    /// abstraction (Semantic Kernel and the like) runs the MoE model in-process. Each call renders the conversation with
    /// the family's chat template, generates with <see cref="TextGenerator"/> until an eos id, a stop sequence or the token
    /// limit, and streams the text as whole characters. Plain text only: tools, images and non-text response formats are
    /// refused by name. Generations run one at a time (the model computes on all cores anyway); the others wait.
    /// </summary>
    public sealed class MoeChatClient : IChatClient
    {
        private readonly MoeCausalLM _model;
        private readonly ModelTokenizer _tokenizer;
        private readonly bool _ownsModel;
        private readonly SemaphoreSlim _oneAtATime = new(1, 1);
        private readonly ChatClientMetadata _metadata;

        /// <summary>Serves <paramref name="model"/> with <paramref name="tokenizer"/>.</summary>
        /// <param name="model">The causal LM.</param>
        /// <param name="tokenizer">The same folder's tokenizer, with a chat template.</param>
        /// <param name="defaults">Limits and template options for calls whose <see cref="ChatOptions"/> leave them unset.</param>
        /// <param name="ownsModel">Whether disposing the client disposes the model and the tokenizer (else they stay the caller's).</param>
        public MoeChatClient(MoeCausalLM model, ModelTokenizer tokenizer, MoeChatDefaults? defaults = null, bool ownsModel = false)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(tokenizer);
            if (tokenizer.ChatTemplate is null)
                throw new ArgumentException($"the tokenizer of {tokenizer.Folder} has no chat template this sample reproduces.", nameof(tokenizer));
            _model = model;
            _tokenizer = tokenizer;
            _ownsModel = ownsModel;
            Defaults = defaults ?? new MoeChatDefaults();
            _metadata = new ChatClientMetadata("MoeLayers", null, System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(tokenizer.Folder)));
        }

        /// <summary>Loads a model folder (weights and tokenizer) as a chat client that owns and disposes both.</summary>
        /// <param name="folder">A Hugging Face model folder with tokenizer files.</param>
        /// <param name="dtype">The dtype to compute in.</param>
        /// <param name="defaults">Limits and template options for calls that leave them unset.</param>
        public static MoeChatClient Load(string folder, ScalarType dtype = ScalarType.BFloat16, MoeChatDefaults? defaults = null)
        {
            var tokenizer = ModelTokenizer.Open(folder);
            try
            {
                return new MoeChatClient(MoeCausalLM.Load(folder, dtype), tokenizer, defaults, ownsModel: true);
            }
            catch
            {
                tokenizer.Dispose();
                throw;
            }
        }

        /// <summary>What a call uses where its <see cref="ChatOptions"/> say nothing.</summary>
        public MoeChatDefaults Defaults { get; }

        /// <inheritdoc />
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var text = new System.Text.StringBuilder();
            ChatResponseUpdate? last = null;
            await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                text.Append(update.Text);
                last = update;
            }
            var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
            {
                ModelId = last?.ModelId,
                CreatedAt = last?.CreatedAt,
                FinishReason = last?.FinishReason,
            };
            if (last?.Contents.OfType<UsageContent>().FirstOrDefault() is { } usage) response.Usage = usage.Details;
            return response;
        }

        /// <inheritdoc />
        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var request = ChatRequest.From(messages, options, Defaults, _tokenizer);
            await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var detokenizer = _tokenizer.NewStreamingDetokenizer(skipSpecialTokens: true);
                var stops = new StopSequences(request.StopSequences);
                using var tokens = new TextGenerator(_model).Generate(request.PromptIds, request.Generation, cancellationToken).GetEnumerator();
                var responseId = Guid.NewGuid().ToString("N");
                var created = DateTimeOffset.UtcNow;
                while (await Task.Run(tokens.MoveNext, cancellationToken).ConfigureAwait(false))
                {
                    var token = tokens.Current;
                    var ends = token.Statistics.Finish != FinishReason.None;
                    var piece = detokenizer.Append(token.Id) + (ends ? detokenizer.Flush() : "");
                    var (text, stopped) = stops.Accept(piece);
                    if (ends && !stopped) text += stops.Release();
                    var finish = stopped || token.IsStop ? ChatFinishReason.Stop : ends ? ChatFinishReason.Length : (ChatFinishReason?)null;
                    var update = new ChatResponseUpdate(ChatRole.Assistant, text)
                    {
                        ResponseId = responseId,
                        MessageId = responseId,
                        CreatedAt = created,
                        ModelId = _metadata.DefaultModelId,
                        FinishReason = finish,
                    };
                    if (finish is not null)
                    {
                        update.Contents.Add(new UsageContent(new UsageDetails
                        {
                            InputTokenCount = token.Statistics.PromptTokens,
                            OutputTokenCount = token.Statistics.GeneratedTokens,
                            TotalTokenCount = token.Statistics.PromptTokens + token.Statistics.GeneratedTokens,
                        }));
                    }
                    yield return update;
                    if (finish is not null) yield break;
                }
            }
            finally
            {
                _oneAtATime.Release();
            }
        }

        /// <inheritdoc />
        public object? GetService(Type serviceType, object? serviceKey = null)
        {
            ArgumentNullException.ThrowIfNull(serviceType);
            if (serviceKey is not null) return null;
            if (serviceType == typeof(ChatClientMetadata)) return _metadata;
            if (serviceType == typeof(MoeCausalLM)) return _model;
            if (serviceType == typeof(ModelTokenizer)) return _tokenizer;
            return serviceType.IsInstanceOfType(this) ? this : null;
        }

        /// <inheritdoc />
        public void Dispose()
        {
            _oneAtATime.Dispose();
            if (!_ownsModel) return;
            _model.Dispose();
            _tokenizer.Dispose();
        }
    }
}
