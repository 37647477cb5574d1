using System;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>
    /// Picks tokens from logits by <see cref="SamplingOptions"/>, in float32 whatever the model's dtype, as transformers'
    /// TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper do (in that order): divide by the temperature,
    /// keep the k largest, keep the most likely tokens whose cumulative probability before them is below top-p (so the
    /// most likely token always stays), renormalize, draw. One sampler per generation: it owns the seeded generator.
    /// </summary>
    public sealed class TokenSampler : IDisposable
    {
        private readonly SamplingOptions _options;
        private readonly Generator? _generator;

        /// <summary>Creates a sampler; throws naming the option that is out of range.</summary>
        /// <param name="options">Temperature, top-k, top-p and seed.</param>
        public TokenSampler(SamplingOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            _options = options;
            if (!options.IsGreedy) _generator = new Generator((ulong)(options.Seed ?? DateTime.UtcNow.Ticks));
        }

        /// <summary>The next token for logits [vocab] (one position).</summary>
        /// <param name="logits">One position's logits, any floating dtype, on the CPU.</param>
        public long Next(Tensor logits)
        {
            ArgumentNullException.ThrowIfNull(logits);
            if (logits.dim() != 1 || logits.shape[0] == 0)
                throw new ArgumentException($"logits must be one position's scores [vocab]; got [{string.Join(", ", logits.shape)}].", nameof(logits));
            using var scope = NewDisposeScope();
            var scores = logits.to(ScalarType.Float32);
            if (_generator is null) return scores.argmax().item<long>();
            return Sample(scores / _options.Temperature);
        }

        /// <summary>The distribution <see cref="Next"/> draws from: probabilities [vocab] (greedy: one-hot).</summary>
        /// <param name="logits">One position's logits [vocab].</param>
        public Tensor Distribution(Tensor logits)
        {
            using var scope = NewDisposeScope();
            var scores = logits.to(ScalarType.Float32);
            if (_generator is null) return nn.functional.one_hot(scores.argmax(), scores.shape[0]).to(ScalarType.Float32).MoveToOuterDisposeScope();
            var (probabilities, order) = Nucleus(scores / _options.Temperature);
            return zeros_like(scores).scatter_(0, order, probabilities).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public void Dispose() => _generator?.Dispose();

        private long Sample(Tensor scaled)
        {
            var (probabilities, order) = Nucleus(scaled);
            var drawn = multinomial(probabilities, 1, generator: _generator).item<long>();
            return order[drawn].item<long>();
        }

        /// <summary>The kept tokens' renormalized probabilities, most likely first, and their token ids.</summary>
        private (Tensor Probabilities, Tensor Order) Nucleus(Tensor scaled)
        {
            var (sorted, order) = scaled.sort(descending: true);
            if (_options.TopK > 0 && _options.TopK < sorted.shape[0])
            {
                sorted = sorted[..(int)_options.TopK];
                order = order[..(int)_options.TopK];
            }
            var probabilities = sorted.softmax(0);
            if (_options.TopP < 1)
            {
                var before = probabilities.cumsum(0) - probabilities;
                probabilities = probabilities.masked_fill(before >= _options.TopP, 0);
                probabilities /= probabilities.sum();
            }
            return (probabilities, order);
        }
    }
}
