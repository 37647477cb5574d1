namespace MoeLayers.Interop
{
    /// <summary>How <see cref="SafetensorsStateDict"/> matches a file's tensors to a target's.</summary>
    public sealed class StateDictLoadOptions
    {
        /// <summary>
        /// A key prefix selecting one block of a larger file, e.g. "model.layers.3.mlp.": only file keys starting with it
        /// take part, with the prefix removed before matching. Null or empty: every key.
        /// </summary>
        public string? Prefix { get; init; }

        /// <summary>
        /// Strict (the default): a file key under the prefix that the target lacks is an error. Lenient (false): such keys
        /// are ignored and reported in <see cref="StateDictLoadResult.IgnoredKeys"/>. A key the target has and the file
        /// lacks is an error either way.
        /// </summary>
        public bool Strict { get; init; } = true;

        /// <summary>
        /// Allow a file dtype that differs from the target's (e.g. a BF16 checkpoint into a float32 module): values are
        /// converted while copying. Off by default, so a dtype difference is reported instead of silently rounded.
        /// </summary>
        public bool ConvertDType { get; init; }
    }
}
