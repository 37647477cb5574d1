using System.Collections.Generic;
using System.IO;

namespace MoeLayers.Interop
{
    /// <summary>
    /// A published MoE family whose block MoeLayers cannot compute exactly as transformers does: its config.json is
    /// refused by name, saying which part of the block is missing, rather than loaded into an approximation. A family
    /// that becomes computable moves to an <see cref="HfFamily"/>.
    /// </summary>
    internal abstract class HfRefusal
    {
        /// <summary>The config.json model_type values refused.</summary>
        public abstract IReadOnlyList<string> ModelTypes { get; }

        /// <summary>What the block needs that MoeLayers lacks, for this config (its fields may name the parts it uses).</summary>
        public abstract string Missing(HfConfigFields fields);

        /// <summary>The exception <see cref="HfMoeConfig.Read"/> throws for this config.</summary>
        public InvalidDataException Refuse(HfConfigFields fields, string modelType) =>
            new($"{fields.Source}: model_type '{modelType}' is not supported by MoeLayers: {Missing(fields)}");
    }
}
