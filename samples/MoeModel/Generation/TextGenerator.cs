using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>
    /// Autoregressive generation with a <see cref="MoeCausalLM"/>: one forward over the prompt (prefill), then one
    /// forward per token over the KV cache (decode), each token picked by a <see cref="TokenSampler"/> from the last
    /// position's logits, until a stop id or the token limit. Tokens stream out as they are made.
    /// </summary>
    public sealed class TextGenerator
    {
        private readonly MoeCausalLM _model;

        /// <summary>Generates with <paramref name="model"/> (in evaluation mode).</summary>
        /// <param name="model">The causal LM.</param>
        public TextGenerator(MoeCausalLM model)
        {
            ArgumentNullException.ThrowIfNull(model);
            _model = model;
        }

        /// <summary>
        /// The tokens that follow <paramref name="prompt"/>, one at a time (lazily: each is computed when the caller asks
        /// for it). The last one carries the finish reason; a stop token is yielded too.
        /// </summary>
        /// <param name="prompt">Token ids, at least one, each in [0, vocab_size).</param>
        /// <param name="options">Limit, sampling, stop ids, cache.</param>
        /// <param name="cancellationToken">Ends the generation between tokens (OperationCanceledException).</param>
        public IEnumerable<GeneratedToken> Generate(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(prompt);
            ArgumentNullException.ThrowIfNull(options);
            if (prompt.Count == 0) throw new ArgumentException("the prompt must hold at least one token.", nameof(prompt));
            var vocabulary = _model.Config.VocabSize;
            if (prompt.Any(id => id < 0 || id >= vocabulary))
                throw new ArgumentOutOfRangeException(nameof(prompt), $"prompt token ids must be in [0, vocab_size = {vocabulary}); found {prompt.First(id => id < 0 || id >= vocabulary)}.");
            options.Validate();
            return Run(prompt.ToArray(), options, cancellationToken);
        }

        private IEnumerable<GeneratedToken> Run(int[] prompt, GenerationOptions options, CancellationToken cancellationToken)
        {
            using var sampler = new TokenSampler(options.Sampling);
            using var cache = options.UseCache ? _model.NewCache() : null;
            var sequence = new List<int>(prompt);
            var stops = options.StopTokenIds as ISet<int> ?? options.StopTokenIds.ToHashSet();
            var (prefill, decode) = (0.0, 0.0);
            for (var generated = 1; generated <= options.MaxNewTokens; generated++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var watch = Stopwatch.StartNew();
                var fed = cache is null || generated == 1 ? sequence : sequence.GetRange(sequence.Count - 1, 1);
                var next = NextToken(fed, cache, sampler);
                if (generated == 1) prefill = watch.Elapsed.TotalSeconds;
                else decode += watch.Elapsed.TotalSeconds;
                sequence.Add(next);
                var finish = stops.Contains(next) ? FinishReason.Stop : generated == options.MaxNewTokens ? FinishReason.Length : FinishReason.None;
                yield return new GeneratedToken(next, new GenerationStatistics(prompt.Length, generated, prefill, decode,
                    GenerationStatistics.PeakMemoryNow(), finish));
                if (finish != FinishReason.None) yield break;
            }
        }

        /// <summary>The token after <paramref name="ids"/> (the new ids alone when a cache holds the earlier ones).</summary>
        private int NextToken(IReadOnlyList<int> ids, KvCache? cache, TokenSampler sampler)
        {
            using var scope = NewDisposeScope();
            var input = tensor(ids.Select(id => (long)id).ToArray()).unsqueeze(0);
            var logits = _model.Forward(input, cache, lastPositionOnly: true);
            return (int)sampler.Next(logits[0, -1]);
        }
    }
}
