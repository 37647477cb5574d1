using System;
using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>What one generation produces: how many tokens at most, how they are picked, what ends it.</summary>
    public sealed record GenerationOptions
    {
        /// <summary>The most tokens to generate (the stop token included); ≥ 1.</summary>
        public int MaxNewTokens { get; init; } = 256;

        /// <summary>How each token is picked (default greedy).</summary>
        public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

        /// <summary>Ids that end the generation once generated (the model folder's eos ids).</summary>
        public IReadOnlyCollection<int> StopTokenIds { get; init; } = Array.Empty<int>();

        /// <summary>
        /// Reuse the keys and values of earlier positions (the default); false runs the whole sequence again for every
        /// token, which the tests use to check the cache.
        /// </summary>
        public bool UseCache { get; init; } = true;

        /// <summary>Throws, naming the property, when a value is outside its range.</summary>
        public void Validate()
        {
            if (MaxNewTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "MaxNewTokens must be ≥ 1.");
            ArgumentNullException.ThrowIfNull(Sampling, nameof(Sampling));
            ArgumentNullException.ThrowIfNull(StopTokenIds, nameof(StopTokenIds));
            Sampling.Validate();
        }
    }
}
