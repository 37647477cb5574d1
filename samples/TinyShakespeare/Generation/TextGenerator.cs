using System;
using System.Linq;
using System.Text;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Model;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Generation
{
    /// <summary>
    /// Autoregressive sampling from a <see cref="CharTransformer"/>: feed the last block of characters, scale the last
    /// position's logits by 1/temperature, keep the top k, and draw the next character. The draw uses a seeded
    /// <see cref="Random"/> on the host, so a seed reproduces the text exactly.
    /// </summary>
    public sealed class TextGenerator
    {
        private readonly CharTransformer _model;
        private readonly CharTokenizer _tokenizer;

        /// <summary>Creates a generator for a model and the vocabulary it was trained with.</summary>
        public TextGenerator(CharTransformer model, CharTokenizer tokenizer)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(tokenizer);
            if (tokenizer.VocabularySize != model.Config.VocabularySize)
                throw new ArgumentException($"tokenizer has {tokenizer.VocabularySize} characters but the model expects {model.Config.VocabularySize}.", nameof(tokenizer));
            _model = model;
            _tokenizer = tokenizer;
        }

        /// <summary>
        /// Continues <paramref name="prompt"/> by <see cref="SamplingOptions.Length"/> characters. An empty prompt
        /// starts from a newline (or the first character of the vocabulary if it has no newline).
        /// </summary>
        /// <returns>The generated characters, without the prompt.</returns>
        /// <exception cref="ArgumentException">The prompt has characters outside the vocabulary, or the options are invalid.</exception>
        public string Generate(string prompt, SamplingOptions options)
        {
            ArgumentNullException.ThrowIfNull(prompt);
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            var context = (prompt.Length > 0 ? _tokenizer.Encode(prompt) : new long[] { StartToken() }).ToList();
            var random = new Random(options.Seed);
            var output = new StringBuilder(options.Length);
            var wasTraining = _model.training;
            _model.eval();
            try
            {
                using var noGrad = no_grad();
                for (var i = 0; i < options.Length; i++)
                {
                    var next = SampleNext(context, options, random);
                    context.Add(next);
                    output.Append(_tokenizer.Alphabet[(int)next]);
                }
            }
            finally
            {
                _model.train(wasTraining);
            }
            return output.ToString();
        }

        private long SampleNext(System.Collections.Generic.List<long> context, SamplingOptions options, Random random)
        {
            using var scope = NewDisposeScope();
            var window = context.Skip(Math.Max(0, context.Count - _model.Config.BlockSize)).ToArray();
            var logits = _model.call(tensor(window, int64).unsqueeze(0))[0, -1].to(float64) / options.Temperature;
            if (options.TopK > 0 && options.TopK < logits.shape[0])
            {
                var kth = logits.topk(options.TopK).values[-1];
                logits = logits.masked_fill(logits.lt(kth), double.NegativeInfinity);
            }
            var probabilities = logits.softmax(0).data<double>().ToArray();
            return Draw(probabilities, random.NextDouble());
        }

        /// <summary>Inverse-CDF draw: the first index whose cumulative probability exceeds <paramref name="u"/> in [0, 1).</summary>
        internal static long Draw(double[] probabilities, double u)
        {
            var cumulative = 0.0;
            var last = -1;
            for (var i = 0; i < probabilities.Length; i++)
            {
                if (probabilities[i] <= 0) continue;
                cumulative += probabilities[i];
                last = i;
                if (u < cumulative) return i;
            }
            return last; // rounding left the total a hair below u
        }

        private long StartToken() => _tokenizer.Contains('\n') ? _tokenizer.Encode("\n")[0] : 0;
    }
}
