using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Granite MoE ("granitemoe") and Granite MoE with a shared MLP ("granitemoeshared"): GraniteMoeTopKGating takes the
    /// top-k of the router logits (block_sparse_moe.router.layer.weight) and softmaxes over those k; the experts are
    /// GraniteMoeParallelExperts, input_linear.weight [E, 2h, d] whose first h output rows are the gate (chunk(2)[0] goes
    /// through the activation) and output_linear.weight [E, d, h], h = intermediate_size. granitemoeshared adds, beside
    /// the block in the decoder layer, shared_mlp.input_linear.weight [2w, d] (gate rows first) and
    /// shared_mlp.output_linear.weight [d, w] of width shared_intermediate_size (0: none), added unscaled to the block's
    /// output. Every layer is MoE. The block's parts sit side by side in the decoder layer, so the layout's keys are
    /// relative to the layer (block name ""). Sources: transformers src/transformers/models/granitemoe/modular_granitemoe.py
    /// @ 023633dd63876e9f65e733a9f547952052b63d6a (GraniteMoeMoE.forward), models/jetmoe's JetMoeTopKGating and
    /// JetMoeParallelExperts as transcribed in modeling_granitemoe.py @ 013458c1caaacbd32680c030827296fa65d6fe99,
    /// models/granitemoeshared/modular_granitemoeshared.py @ 01819372ec80f0dcd15733caa83db53d947d476b
    /// (GraniteMoeSharedMLP, GraniteMoeSharedDecoderLayer), and defaults from configuration_granitemoe.py and
    /// configuration_granitemoeshared.py @ 040e1a7e4bb4f48ff62dfbbb1f6f8eff23e894ac (hidden_size 4096, intermediate_size
    /// 11008, num_hidden_layers 32, num_local_experts 8, num_experts_per_tok 2, router_aux_loss_coef 0.001,
    /// shared_intermediate_size 0). k = 1 is refused (the softmax over one logit weights its expert by exactly 1).
    /// </summary>
    internal sealed class GraniteMoeFamily(bool shared) : HfFamily
    {
        public override HfArchitecture Architecture => shared ? HfArchitecture.GraniteMoeShared : HfArchitecture.GraniteMoe;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { shared ? "granitemoeshared" : "granitemoe" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 32, 1);
            var experts = f.Int("num_local_experts", 8, 1);
            var topK = TopK(f, experts, "num_local_experts", 2);
            RequireRenormalizableTopK(f, "num_experts_per_tok", topK, renormalized: true);
            var sharedWidth = shared ? f.Int("shared_intermediate_size", 0, 0) : 0;
            return new HfMoeConfig(HfSchedule.AllMoe(layers))
            {
                Architecture = Architecture,
                ModelType = ModelTypes[0],
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 4096, 1),
                ExpertWidth = f.Int("intermediate_size", 11008, 1),
                NumExperts = experts,
                TopK = topK,
                TopKOrder = TopKOrder.TopKThenSoftmax,
                SharedExperts = sharedWidth > 0 ? 1 : 0,
                SharedWidth = sharedWidth,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("block_sparse_moe.router.layer.weight"),
            new HfExpertsCodec[] { new FusedGateUpCodec("", "block_sparse_moe.input_linear.weight", "block_sparse_moe.output_linear.weight") },
            shared ? new HfSharedExpertCodec("shared_mlp.", Gate: null, Up: null, Down: "output_linear", GateUp: "input_linear") : null);
    }
}
