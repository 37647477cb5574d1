using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using MoeLayers.Samples.MoeModel.Evaluation;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    public sealed class PerplexityTests
    {
        /// <summary>Σ −log softmax(logits[p − 1])[token p] over p in [first, end) of one window's logits [L, V] starting at begin.</summary>
        private static double Nll(Tensor logits, IReadOnlyList<int> tokens, int begin, int first, int end)
        {
            var logProbabilities = logits.to(ScalarType.Float64).log_softmax(-1);
            return -Enumerable.Range(first, end - first).Sum(p => logProbabilities[p - 1 - begin, tokens[p]].item<double>());
        }

        [Fact]
        public void One_window_scores_every_token_after_the_first_against_the_published_forward()
        {
            using var scope = NewDisposeScope();
            var reference = MoeModelFixtures.ReferenceOf("qwen3_moe");
            var tokens = reference.InputIds[0].data<long>().Select(id => (int)id).ToArray();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            var result = Perplexity.Measure(model, tokens, window: 64, stride: 64);
            var expected = Nll(reference.Logits[0], tokens, 0, 1, 64) / 63;
            (result.ScoredTokens, result.Windows).Should().Be((63, 1));
            result.NegativeLogLikelihood.Should().BeApproximately(expected, 1e-5);
            result.Perplexity.Should().BeApproximately(Math.Exp(expected), 1e-4 * Math.Exp(expected));
        }

        [Fact]
        public void Overlapping_windows_score_each_token_once_with_its_window_as_context()
        {
            using var scope = NewDisposeScope();
            var tokens = MoeModelFixtures.ReferenceOf("olmoe").InputIds[0].data<long>().Select(id => (int)id).Take(40).ToArray();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("olmoe"), ScalarType.Float32);
            var progress = new List<(long, long)>();
            var result = Perplexity.Measure(model, tokens, window: 16, stride: 10, new SynchronousProgress<(long, long)>(progress.Add));
            // Windows [0,16) scores 1..15, [10,26) 16..25, [20,36) 26..35, [30,40) 36..39: every token after the first once.
            var expected = 0.0;
            foreach (var (begin, first, end) in new[] { (0, 1, 16), (10, 16, 26), (20, 26, 36), (30, 36, 40) })
            {
                var ids = tensor(tokens[begin..end].Select(t => (long)t).ToArray()).unsqueeze(0);
                expected += Nll(model.Forward(ids)[0], tokens, begin, first, end);
            }
            (result.ScoredTokens, result.Windows).Should().Be((39, 4));
            result.NegativeLogLikelihood.Should().BeApproximately(expected / 39, 1e-6);
            progress.Should().Equal((15L, 39L), (25L, 39L), (35L, 39L), (39L, 39L));
        }

        [Fact]
        public void Disjoint_windows_leave_each_first_token_unscored_and_a_last_window_of_one_token_starts_earlier()
        {
            using var scope = NewDisposeScope();
            var tokens = MoeModelFixtures.ReferenceOf("olmoe").InputIds[0].data<long>().Select(id => (int)id).Take(17).ToArray();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("olmoe"), ScalarType.Float32);
            // Disjoint windows: [0,8) scores 1..7, [8,16) scores 9..15 (token 8 has no context in it, as in transformers'
            // guide); the window at 16 would hold token 16 alone, so it is [15,17) and scores 16.
            Perplexity.Windows(17, 8, 8).Should().Equal((0, 1, 8), (8, 9, 16), (15, 16, 17));
            var result = Perplexity.Measure(model, tokens, window: 8, stride: 8);
            var expected = 0.0;
            foreach (var (begin, first, end) in new[] { (0, 1, 8), (8, 9, 16), (15, 16, 17) })
            {
                var ids = tensor(tokens[begin..end].Select(t => (long)t).ToArray()).unsqueeze(0);
                expected += Nll(model.Forward(ids)[0], tokens, begin, first, end);
            }
            (result.ScoredTokens, result.Windows).Should().Be((15, 3));
            result.NegativeLogLikelihood.Should().BeApproximately(expected / 15, 1e-6);
        }

        [Fact]
        public void Bad_arguments_are_refused_by_name()
        {
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            FluentActions.Invoking(() => Perplexity.Measure(model, new[] { 1 }, 8, 8)).Should().Throw<ArgumentException>().WithParameterName("tokens");
            FluentActions.Invoking(() => Perplexity.Measure(model, new[] { 1, 2 }, 1, 1)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("window");
            FluentActions.Invoking(() => Perplexity.Measure(model, new[] { 1, 2 }, 8, 9)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("stride");
            FluentActions.Invoking(() => Perplexity.Measure(model, new[] { 1, 600 }, 8, 8)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*vocab_size = 512*600*");
        }

        private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
        {
            public void Report(T value) => report(value);
        }
    }
}
