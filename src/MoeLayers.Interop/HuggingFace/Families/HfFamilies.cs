using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>Every family MoeLayers reads, by architecture and by model_type.</summary>
    internal static class HfFamilies
    {
        /// <summary>All families, in the order of <see cref="HfArchitecture"/>.</summary>
        public static readonly IReadOnlyList<HfFamily> All = new HfFamily[]
        {
            new MixtralFamily(),
            new Qwen2MoeFamily(),
            new Qwen3MoeFamily(),
            new OlmoeFamily(),
            new DeepseekV3Family(),
            new JambaFamily(),
            new DbrxFamily(),
            new KimiK2Family(),
            new Glm4MoeFamily(),
            new Dots1Family(),
            new MiniMaxM2Family(),
            new HunyuanV1MoeFamily(),
            new Qwen3NextFamily(),
            new Qwen35MoeFamily(),
            new Ernie45MoeFamily(),
            new GraniteMoeFamily(shared: false),
            new GraniteMoeFamily(shared: true),
            new GptOssFamily(),
            new Llama4Family(textOnly: false),
            new Llama4Family(textOnly: true),
            new NemotronHFamily(),
        };

        /// <summary>Published MoE families refused by name, with what MoeLayers lacks to compute them.</summary>
        public static readonly IReadOnlyList<HfRefusal> Refused = new HfRefusal[]
        {
            new PhimoeRefusal(),
            new LongcatFlashRefusal(),
            new DeepseekV4Refusal(),
        };

        /// <summary>The family of an architecture.</summary>
        public static HfFamily Of(HfArchitecture architecture) =>
            All.FirstOrDefault(f => f.Architecture == architecture) ?? throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "No such family.");

        /// <summary>
        /// The family that reads <paramref name="modelType"/>; for a refused family an exception saying what MoeLayers
        /// lacks, for an unknown one an exception listing the supported ones.
        /// </summary>
        public static HfFamily For(string modelType, HfConfigFields fields)
        {
            if (Refused.FirstOrDefault(r => r.ModelTypes.Contains(modelType)) is { } refusal) throw refusal.Refuse(fields, modelType);
            return All.FirstOrDefault(f => f.ModelTypes.Contains(modelType)) ?? throw new InvalidDataException(
                $"{fields.Source}: model_type '{modelType}' is not a supported MoE architecture; expected one of " +
                $"{string.Join(", ", All.SelectMany(f => f.ModelTypes))}.");
        }
    }
}
