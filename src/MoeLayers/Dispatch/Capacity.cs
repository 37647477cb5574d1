using System;

namespace MoeLayers.Dispatch
{
    /// <summary>Expert capacity: C = ceil(cf · k · T / E), clamped to [minCapacity, T].</summary>
    public static class Capacity
    {
        /// <summary>Returns the capacity per expert, or null (dropless) when <paramref name="capacityFactor"/> is null.</summary>
        /// <param name="capacityFactor">Capacity factor cf &gt; 0, or null for dropless routing.</param>
        /// <param name="tokens">Tokens T in the batch.</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="minCapacity">Lower bound on C (at least 1).</param>
        public static long? Compute(double? capacityFactor, long tokens, int topK, int numExperts, int minCapacity)
        {
            if (capacityFactor is null) return null;
            var cf = capacityFactor.Value;
            if (!(cf > 0) || double.IsInfinity(cf))
                throw new ArgumentOutOfRangeException(nameof(capacityFactor), cf, $"capacityFactor must be a finite number > 0; got {cf}.");
            if (minCapacity < 1)
                throw new ArgumentOutOfRangeException(nameof(minCapacity), minCapacity, $"minCapacity must be at least 1; got {minCapacity}.");
            var raw = (long)Math.Ceiling(cf * topK * tokens / numExperts);
            return Math.Min(Math.Max(raw, minCapacity), Math.Max(tokens, 1));
        }
    }
}
