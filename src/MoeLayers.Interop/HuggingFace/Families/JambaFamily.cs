using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Jamba ("jamba"): softmax over E, top-k, never renormalized (the weights are the k softmax probabilities); SwiGLU
    /// experts of width intermediate_size, router feed_forward.router, per expert feed_forward.experts.{i}.gate_proj /
    /// up_proj / down_proj (the Hub layout) or fused under feed_forward.experts (v5). Layer i is MoE when
    /// i % expert_layer_period == expert_layer_offset, else a dense JambaMLP. Sources: transformers
    /// src/transformers/models/jamba/modeling_jamba.py @ 97bb61d0788015770945004a7db6285db68081c0 (JambaSparseMoeBlock,
    /// the decoder layers' `num_experts > 1` choice), modular_jamba.py @ 72acce0ffc159e38edfe59f20c42ebd0c1dbb28a (v5
    /// JambaExperts(MixtralExperts), the same routing), conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6
    /// ("jamba": the v5 fusion). Defaults: configuration_jamba.py @ 161d2bed0075063d3c6f605e370b87bd097ff2b4
    /// (hidden_size 4096, intermediate_size 14336, num_hidden_layers 32, num_experts 16, num_experts_per_tok 2,
    /// expert_layer_period 2, expert_layer_offset 1, router_aux_loss_coef 0.001, hidden_act "silu"; an offset not
    /// below the period is refused there too).
    /// </summary>
    internal sealed class JambaFamily : HfFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Jamba;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "jamba" };

        public override HfMoeConfig Read(HfConfigFields f)
        {
            RequireActivation(f, "silu", "silu");
            var layers = f.Int("num_hidden_layers", 32, 1);
            var experts = f.Int("num_experts", 16, 1);
            if (experts == 1)
                throw f.Contradiction($"'{f.Name("num_experts")}' = 1 makes every Jamba layer a dense JambaMLP (layers_num_experts is 1 everywhere): the model has no MoE block to load.");
            var period = f.Int("expert_layer_period", 2, 1);
            var offset = f.Int("expert_layer_offset", 1, 0, period - 1, $"in [0, {f.Name("expert_layer_period")} = {period}) (JambaConfig refuses an offset not below the period)");
            return new HfMoeConfig(Schedule(f, layers, period, offset))
            {
                Architecture = Architecture,
                ModelType = "jamba",
                Source = f.Source,
                NumLayers = layers,
                HiddenSize = f.Int("hidden_size", 4096, 1),
                ExpertWidth = f.Int("intermediate_size", 14336, 1),
                NumExperts = experts,
                TopK = TopK(f, experts, "num_experts", 2),
                NormalizeTopK = false,
                AuxiliaryLossCoefficient = f.Double("router_aux_loss_coef", 0.001, v => v >= 0, "a finite number ≥ 0"),
            };
        }

        public override HfBlockLayout Layout(HfMoeConfig config) => new(
            new HfRouterKeys("router.weight"),
            new HfExpertsCodec[] { new PerExpertCodec("feed_forward.", "gate_proj", "up_proj", "down_proj"), new FusedGateUpCodec("feed_forward.") });

        /// <summary>JambaConfig.layers_num_experts: layer i has the experts when i % period == offset.</summary>
        private static string?[] Schedule(HfConfigFields f, int layers, int period, int offset)
        {
            var reasons = new string?[layers];
            for (var i = 0; i < layers; i++)
            {
                if (i % period != offset)
                    reasons[i] = $"{f.Name("expert_layer_period")} = {period} and {f.Name("expert_layer_offset")} = {offset} make only layers i with i % {period} == {offset} MoE";
            }
            return reasons;
        }
    }
}
