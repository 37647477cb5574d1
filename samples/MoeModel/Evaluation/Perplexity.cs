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
    /// <c>window</c> tokens starting every <c>stride</c> tokens; a window scores the tokens after those already scored,
    /// each with the earlier tokens of the window as its context. With disjoint windows (stride = window) the first token
    /// of each window has no context and is not scored, as in the guide; a smaller stride scores every token after the
    /// first, each with more context, for more compute. A last window of a single token starts one token earlier, so
    /// that token is scored (the guide's loop divides by zero there).
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
            var plan = Windows(tokens.Count, window, stride).ToList();
            var total = plan.Sum(w => (long)(w.End - w.First));
            var (scored, nll) = (0L, 0.0);
            foreach (var (start, first, end) in plan)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var ids = tensor(Enumerable.Range(start, end - start).Select(i => (long)tokens[i]).ToArray()).unsqueeze(0);
                var logProbabilities = model.Forward(ids)[0].log_softmax(-1);
                // Position p is predicted by the logits at p − 1 (window-relative p − 1 − start).
                var predictors = logProbabilities[(first - 1 - start)..(end - 1 - start)];
                var targets = ids[0][(first - start)..(end - start)].unsqueeze(1);
                nll -= predictors.gather(1, targets).to(ScalarType.Float64).sum().item<double>();
                scored += end - first;
                progress?.Report((scored, total));
            }
            return new PerplexityResult(scored, nll / scored, plan.Count, watch.Elapsed.TotalSeconds);
        }

        /// <summary>
        /// The windows: (start, first scored position, end) for windows starting every <paramref name="stride"/> tokens;
        /// a window scores the positions after the last one scored that have an earlier token in it.
        /// </summary>
        internal static IEnumerable<(int Start, int First, int End)> Windows(int count, int window, int stride)
        {
            var scoredEnd = 1;
            for (var begin = 0; scoredEnd < count; begin += stride)
            {
                var end = Math.Min(begin + window, count);
                // A last window of one token would hold no context for it: start it one token earlier.
                var start = Math.Min(begin, end - 2);
                yield return (start, Math.Max(scoredEnd, start + 1), end);
                scoredEnd = end;
            }
        }
    }
}
