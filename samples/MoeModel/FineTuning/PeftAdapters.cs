using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>What <see cref="PeftAdapterFolder.Load"/> reads back.</summary>
    /// <param name="Adapters">The adapters by the adapted <see cref="MoeCausalLM"/>'s state-dict names, float32 (as <see cref="PeftAdapterFolder.Save"/> takes them).</param>
    /// <param name="Settings">Rank, α, rsLoRA, and the targets the folder holds adapters for (Router when it holds routers).</param>
    /// <param name="ExpertEncoding">How the folder stores the routed experts' adapters.</param>
    public sealed record PeftAdapters(Dictionary<string, Tensor> Adapters, AdapterSettings Settings, PeftExpertEncoding ExpertEncoding);
}
