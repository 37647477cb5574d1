using System.IO;
using FluentAssertions;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// Families MoeLayers cannot compute exactly are refused by name in <see cref="HfMoeConfig.Read"/>, saying what is
    /// missing, instead of being approximated: Phi-3.5-MoE (sparsemixer routing), LongCat-Flash (identity zero experts),
    /// DeepSeek-V4 (sqrt-softplus scores, hash routing, clamped SwiGLU).
    /// </summary>
    public class RefusedFamilyConfigTests
    {
        [Fact]
        public void PhimoeIsRefusedForItsSparsemixerRouting()
        {
            var act = () => HfMoeConfig.Parse("""{ "model_type": "phimoe", "num_local_experts": 16, "num_experts_per_tok": 2, "router_jitter_noise": 0.01 }""", "phi/config.json");

            act.Should().Throw<InvalidDataException>()
                .WithMessage("phi/config.json: model_type 'phimoe' is not supported by MoeLayers: sparsemixer routing*'router_jitter_noise'*");
        }

        [Fact]
        public void LongcatFlashIsRefusedForItsZeroComputationExperts()
        {
            var act = () => HfMoeConfig.Parse("""{ "model_type": "longcat_flash", "n_routed_experts": 512, "zero_expert_num": 256, "zero_expert_type": "identity" }""");

            act.Should().Throw<InvalidDataException>()
                .WithMessage("*model_type 'longcat_flash' is not supported by MoeLayers: zero-computation (identity) experts ('zero_expert_num' = 256, 'zero_expert_type' = 'identity')*no identity expert*");
        }

        [Fact]
        public void DeepseekV4WithItsDefaultsNamesAllThreeMissingParts()
        {
            var act = () => HfMoeConfig.Parse("""{ "model_type": "deepseek_v4" }""");

            act.Should().Throw<InvalidDataException>()
                .WithMessage("*model_type 'deepseek_v4' is not supported by MoeLayers: sqrt(softplus) router scores ('scoring_func' = 'sqrtsoftplus'); " +
                             "hash routing by token id in 3 layer(s) ('num_hash_layers'*; SwiGLU with clamped gate/up pre-activations ('swiglu_limit' = 10).");
        }

        [Fact]
        public void DeepseekV4NamesOnlyThePartsItsConfigUses()
        {
            var act = () => HfMoeConfig.Parse("""{ "model_type": "deepseek_v4", "scoring_func": "sigmoid", "mlp_layer_types": ["hash_moe", "moe", "moe"], "swiglu_limit": 0 }""");

            var message = act.Should().Throw<InvalidDataException>().Which.Message;
            message.Should().Contain("hash routing by token id in 1 layer(s) ('mlp_layer_types'");
            message.Should().NotContain("sqrt(softplus)").And.NotContain("swiglu_limit");
        }
    }
}
