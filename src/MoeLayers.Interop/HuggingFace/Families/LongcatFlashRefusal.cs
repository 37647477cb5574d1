using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// LongCat-Flash ("longcat_flash"), refused: its router chooses among n_routed_experts real experts and
    /// zero_expert_num zero-computation experts (zero_expert_type "identity": a chosen one adds weight · x, no MLP), so
    /// the number of real experts a token runs varies (transformers src/transformers/models/longcat_flash/
    /// modular_longcat_flash.py @ 4496605e71065a5a40cb1847057a013ef5377ba8 and configuration_longcat_flash.py @
    /// b57e1595dc7c4195144d3f59716001ba8b8a5442, zero_expert_num / zero_expert_type). MoeLayers' experts are all MLPs;
    /// there is no identity expert, and counting the zero experts as MLPs would not compute x.
    /// </summary>
    internal sealed class LongcatFlashRefusal : HfRefusal
    {
        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "longcat_flash" };

        public override string Missing(HfConfigFields f) =>
            $"zero-computation (identity) experts ('{f.Name("zero_expert_num")}' = {(f.Has("zero_expert_num") ? f.Int("zero_expert_num", 0) : "absent")}, " +
            $"'{f.Name("zero_expert_type")}' = '{f.String("zero_expert_type", "")}'): a chosen zero expert adds routing weight × x without an MLP, " +
            "and MoeLayers has no identity expert.";
    }
}
