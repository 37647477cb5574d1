using System;

namespace MoeLayers.Samples.TinyShakespeare.Generation
{
    /// <summary>How characters are drawn from the model's next-character distribution.</summary>
    public sealed record SamplingOptions
    {
        /// <summary>Characters to generate after the prompt, at least 1.</summary>
        public int Length { get; init; } = 500;

        /// <summary>Logits are divided by this before the softmax; below 1 sharpens, above 1 flattens. Must be &gt; 0.</summary>
        public double Temperature { get; init; } = 1.0;

        /// <summary>Keep only the k most likely characters (0 keeps all).</summary>
        public int TopK { get; init; }

        /// <summary>Seed of the sampler: the same seed, checkpoint and prompt give the same text.</summary>
        public int Seed { get; init; } = 1337;

        /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad field.</summary>
        public void Validate()
        {
            if (Length < 1) throw new ArgumentException($"{nameof(Length)} must be at least 1; got {Length}.", nameof(Length));
            if (!(Temperature > 0) || double.IsInfinity(Temperature))
                throw new ArgumentException($"{nameof(Temperature)} must be a positive number; got {Temperature}.", nameof(Temperature));
            if (TopK < 0) throw new ArgumentException($"{nameof(TopK)} must be 0 (all) or positive; got {TopK}.", nameof(TopK));
        }
    }
}
