using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Evaluation
{
    /// <summary>
    /// Perplexity with a sliding window, as transformers' perplexity guide computes it: windows of at most
    /// <c>window</c> tokens starting every <c>stride</c> tokens; each token after the first is scored exactly once, in
    /// the first window that holds it together with at least one earlier token, with the earlier tokens of that window as
    /// its context. A stride equal to the window gives disjoint windows; a smaller stride gives every scored token more
    /// context for more compute.
    /// </summary>
    public static class Perplexity
    {
        /// <summary>Scores <paramref name="tokens"/> with <paramref name="model"/>.</summary>
        /// <param name="model">The causal LM.</param>
        /// <param name="tokens">At least two token ids.</param>
        /// <param name="window">Tokens per forward, ≥ 2.</param>
        /// <param name="stride">Tokens between window starts, in [1, window].</param>
        /// <param name="progress">Receives (scored, total) after each window, or null.</param>
        /// <param name="cancellationToken">Stops between windows.</param>
        public static PerplexityResult Measure(MoeCausalLM model, IReadOnlyList<int> tokens, int window, int stride,
            IProgress<(long Scored, long Total)>? progress = null, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(tokens);
            if (tokens.Count < 2) throw new ArgumentException($"perplexity needs at least 2 tokens; got {tokens.Count}.", nameof(tokens));
            if (window < 2) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be ≥ 2 tokens.");
            if (stride < 1 || stride > window) throw new ArgumentOutOfRangeException(nameof(stride), stride, $"stride must be in [1, window = {window}].");
            var outside = tokens.FirstOrDefault(id => id < 0 || id >= model.Config.VocabSize, -1);
            if (tokens.Any(id => id < 0 || id >= model.Config.VocabSize))
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token ids must be in [0, vocab_size = {model.Config.VocabSize}); found {outside}.");
            var watch = Stopwatch.StartNew();
            var (total, scored, windows, nll) = (tokens.Count - 1L, 0L, 0, 0.0);
            var scoredEnd = 1;
            for (var begin = 0; scoredEnd < tokens.Count; begin += stride)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var end = Math.Min(begin + window, tokens.Count);
                var first = Math.Max(scoredEnd, begin + 1);
                if (first >= end) continue;
                using var scope = NewDisposeScope();
                var ids = tensor(Enumerable.Range(begin, end - begin).Select(i => (long)tokens[i]).ToArray()).unsqueeze(0);
                var logProbabilities = model.Forward(ids)[0].log_softmax(-1);
                // Position p is predicted by the logits at p − 1 (window-relative p − 1 − begin).
                var predictors = logProbabilities[(first - 1 - begin)..(end - 1 - begin)];
                var targets = ids[0][(first - begin)..(end - begin)].unsqueeze(1);
                nll -= predictors.gather(1, targets).to(ScalarType.Float64).sum().item<double>();
                scored += end - first;
                scoredEnd = end;
                windows++;
                progress?.Report((scored, total));
            }
            return new PerplexityResult(scored, nll / scored, windows, watch.Elapsed.TotalSeconds);
        }
    }
}
