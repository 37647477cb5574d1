using System;

namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>
    /// How the next token is picked from a position's logits: greedily (<see cref="Temperature"/> 0), or by sampling
    /// softmax(logits / temperature) restricted to the <see cref="TopK"/> most likely tokens and to the smallest set of
    /// them whose probability reaches <see cref="TopP"/> (nucleus sampling), from a generator seeded with
    /// <see cref="Seed"/>. The same seed and prompt give the same tokens.
    /// </summary>
    public sealed record SamplingOptions
    {
        /// <summary>Greedy decoding: always the most likely token.</summary>
        public static SamplingOptions Greedy { get; } = new();

        /// <summary>Softmax temperature; 0 (the default) is greedy. Must be finite and ≥ 0.</summary>
        public double Temperature { get; init; }

        /// <summary>Nucleus: keep the most likely tokens until their probabilities sum to at least this; in (0, 1], 1 keeps all.</summary>
        public double TopP { get; init; } = 1.0;

        /// <summary>Keep only the k most likely tokens before the nucleus; 0 keeps all.</summary>
        public int TopK { get; init; }

        /// <summary>The sampling generator's seed; null draws one from the clock.</summary>
        public long? Seed { get; init; }

        /// <summary>Whether these options pick the most likely token every time.</summary>
        public bool IsGreedy => Temperature == 0 || TopK == 1;

        /// <summary>Throws, naming the property, when a value is outside its range.</summary>
        public void Validate()
        {
            if (!double.IsFinite(Temperature) || Temperature < 0)
                throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be finite and ≥ 0 (0 is greedy).");
            if (!(TopP > 0 && TopP <= 1))
                throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1] (1 keeps every token).");
            if (TopK < 0)
                throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be ≥ 0 (0 keeps every token).");
        }
    }
}
