using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Mixtral ("mixtral"): softmax over E, top-k, always renormalized; SwiGLU experts w1 (gate), w3 (up), w2 (down) under
    /// block_sparse_moe (v4, the Hub layout) or fused under mlp (v5); every layer MoE. Defaults: transformers
    /// src/transformers/models/mixtral/configuration_mixtral.py @ 008e574391258935f3ecc3035c882e73bbcac419 (hidden_size
    /// 4096, intermediate_size 14336, num_hidden_layers 32, num_local_experts 8, num_experts_per_tok 2,
    /// router_aux_loss_coef 0.001).
    /// </summary>
    internal sealed class MixtralFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Mixtral;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "mixtral" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 32, 1);
            var experts = f.Int("num_local_experts", 8, 1);
            var topK = TopK(f, experts, "num_local_experts", 2);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, renormalized: true);
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = "mixtral",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 4096, 1),
                ExpertWidth = f.Int("intermediate_size", 14336, 1),
                NumExperts = experts,
                TopK = topK,
                NormalizeTopK = true,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("gate.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("block_sparse_moe.", "w1", "w3", "w2"), new FusedGateUpCodec("mlp.") });
    }
}
