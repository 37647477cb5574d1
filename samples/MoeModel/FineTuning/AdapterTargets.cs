using System;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>Which parts of a <see cref="MoeCausalLM"/> a LoRA fine-tune adapts (<see cref="AdapterSettings.Targets"/>).</summary>
    [Flags]
    public enum AdapterTargets
    {
        /// <summary>Nothing.</summary>
        None = 0,

        /// <summary>The attention projections q_proj, k_proj, v_proj and o_proj of every layer.</summary>
        Attention = 1,

        /// <summary>Every routed expert's projections (and the shared experts', where the family has them) through <see cref="MoeLora"/>.</summary>
        Experts = 2,

        /// <summary>The routers, trained in full (they are E·d parameters per layer), not through adapters.</summary>
        Router = 4,

        /// <summary>The dense feed-forward layers' gate_proj, up_proj and down_proj (the layers the family's schedule keeps dense).</summary>
        DenseMlp = 8,

        /// <summary>Attention, experts and dense feed-forward layers: every projection of the model but the head.</summary>
        AllProjections = Attention | Experts | DenseMlp,
    }
}
