using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>What a successful load did.</summary>
    public sealed class StateDictLoadResult
    {
        internal StateDictLoadResult(IReadOnlyList<string> loadedKeys, IReadOnlyList<string> ignoredKeys)
        {
            LoadedKeys = loadedKeys;
            IgnoredKeys = ignoredKeys;
        }

        /// <summary>The target keys that were overwritten (every target key, in ordinal order).</summary>
        public IReadOnlyList<string> LoadedKeys { get; }

        /// <summary>File keys under the prefix that the target lacks, ignored in lenient mode (with the prefix).</summary>
        public IReadOnlyList<string> IgnoredKeys { get; }
    }
}
