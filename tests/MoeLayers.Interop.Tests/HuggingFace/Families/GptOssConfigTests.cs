using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.HuggingFace.Models;
using MoeLayers.Interop.Tests.Support;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// gpt_oss: transformers' GptOssConfig defaults (configuration_gpt_oss.py @ 02b8f42b4240dddea1b27c45d2dc95fb2682f841),
    /// the block GptOssMLP fixes (router bias, top-k of the logits then softmax, expert biases, the clamped SwiGLU with
    /// α = 1.702 and limit 7; modular_gpt_oss.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86), the published configs,
    /// the refusals, and an MXFP4 folder whose blocks do not fit its config.
    /// </summary>
    public class GptOssConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeGptOssConfigDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "gpt_oss" }""");

            config.Architecture.Should().Be(HfArchitecture.GptOss);
            (config.HiddenSize, config.ExpertWidth, config.NumLayers, config.NumExperts, config.TopK).Should().Be((2880, 2880, 36, 128, 4));
            config.AuxiliaryLossCoefficient.Should().Be(0.001);
            config.QuantizationMethod.Should().BeEmpty();
            config.MoeLayerIndices.Should().Equal(Enumerable.Range(0, 36));
            config.DenseReason(0).Should().BeNull("every gpt-oss decoder layer is MoE");
            config.DenseReason(35).Should().BeNull();
        }

        [Fact]
        public void TheBlockIsGptOssMlp()
        {
            var options = HfMoeConfig.Parse("""{ "model_type": "gpt_oss" }""").ToOptions();

            options.TopKOrder.Should().Be(TopKOrder.TopKThenSoftmax, "GptOssTopKRouter softmaxes the top k logits");
            options.RenormalizeWeights.Should().BeFalse("the softmax over the k already sums to 1");
            options.ScoreFunction.Should().Be(ScoreFunction.Softmax);
            options.RouterBias.Should().BeTrue("mlp.router.bias is added to the logits");
            options.ExpertBias.Should().BeTrue("gate_up_proj_bias and down_proj_bias");
            options.Activation.Should().Be(ExpertActivation.ClampedSwiGlu);
            (options.SwiGluAlpha, options.SwiGluLimit).Should().Be((1.702, 7.0));
            options.WeightExpertInputs.Should().BeFalse();
            (options.SharedExperts, options.BalanceBias).Should().Be((0, false));
            (options.LoadBalancingLoss, options.LoadBalancingCoefficient).Should().Be((LoadBalancingLossKind.Switch, 0.001));
        }

        [Theory]
        [InlineData(24, 32)] // openai/gpt-oss-20b
        [InlineData(36, 128)] // openai/gpt-oss-120b
        public void ThePublishedConfigsAreRead(int layers, int experts)
        {
            var config = HfMoeConfig.Parse($$"""
                {
                  "architectures": ["GptOssForCausalLM"], "attention_bias": true, "attention_dropout": 0.0, "eos_token_id": 200002,
                  "experts_per_token": 4, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880, "initial_context_length": 4096,
                  "initializer_range": 0.02, "intermediate_size": 2880, "max_position_embeddings": 131072, "model_type": "gpt_oss",
                  "num_attention_heads": 64, "num_experts_per_tok": 4, "num_hidden_layers": {{layers}}, "num_key_value_heads": 8,
                  "num_local_experts": {{experts}}, "output_router_logits": false, "pad_token_id": 199999,
                  "quantization_config": {
                    "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"],
                    "quant_method": "mxfp4"
                  },
                  "rms_norm_eps": 1e-05,
                  "rope_scaling": { "beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096, "rope_type": "yarn", "truncate": false },
                  "rope_theta": 150000, "router_aux_loss_coef": 0.9, "sliding_window": 128, "swiglu_limit": 7.0,
                  "tie_word_embeddings": false, "use_cache": true, "vocab_size": 201088
                }
                """);

            (config.NumLayers, config.NumExperts, config.TopK, config.HiddenSize, config.ExpertWidth).Should().Be((layers, experts, 4, 2880, 2880));
            config.AuxiliaryLossCoefficient.Should().Be(0.9);
            config.QuantizationMethod.Should().Be("mxfp4");
            config.MoeLayerIndices.Should().HaveCount(layers);
        }

        [Fact]
        public void NumExpertsIsAnAliasOfNumLocalExperts()
        {
            HfMoeConfig.Parse("""{ "model_type": "gpt_oss", "num_experts": 32 }""").NumExperts.Should().Be(32);
            HfMoeConfig.Parse("""{ "model_type": "gpt_oss", "num_experts": 32, "num_local_experts": 32 }""").NumExperts.Should().Be(32);
        }

        [Fact]
        public void TheActivationFieldIsNotReadByTheExperts()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "gpt_oss", "hidden_act": "gelu" }""");

            config.Activation.Should().Be(ExpertActivation.ClampedSwiGlu, "GptOssExperts applies the clamped SwiGLU whatever hidden_act says");
        }

        [Theory]
        [InlineData("""{ "model_type": "gpt_oss", "swiglu_limit": 10.0 }""", "*model_type 'gpt_oss': 'swiglu_limit' = 10 is not supported by MoeLayers (only 7)*Mxfp4GptOssExperts*")]
        [InlineData("""{ "model_type": "gpt_oss", "swiglu_alpha": 1.0 }""", "*model_type 'gpt_oss': 'swiglu_alpha' = 1 is not supported by MoeLayers (only 1.702)*")]
        [InlineData("""{ "model_type": "gpt_oss", "swiglu_limit": "7" }""", "*'swiglu_limit' must be a number; got \"7\"*")]
        [InlineData("""{ "model_type": "gpt_oss", "num_experts_per_tok": 1 }""", "*'num_experts_per_tok' = 1 with renormalized routing weights*exactly 1*")]
        [InlineData("""{ "model_type": "gpt_oss", "num_local_experts": 4, "num_experts_per_tok": 5 }""", "*'num_experts_per_tok' must be in [1, num_local_experts = 4]; got 5*")]
        [InlineData("""{ "model_type": "gpt_oss", "num_local_experts": 0 }""", "*'num_local_experts' must be at least 1; got 0*")]
        [InlineData("""{ "model_type": "gpt_oss", "num_local_experts": 32, "num_experts": 16 }""", "*'num_experts' = 16 contradicts 'num_local_experts' = 32*")]
        [InlineData("""{ "model_type": "gpt_oss", "router_aux_loss_coef": -0.5 }""", "*'router_aux_loss_coef' must be a finite number ≥ 0; got -0.5*")]
        [InlineData("""{ "model_type": "gpt_oss", "quantization_config": { "quant_method": "awq" } }""", "*'quantization_config.quant_method' = 'awq' is not supported*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);

            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }

        [Fact]
        public void Mxfp4BlocksThatDoNotFitTheConfigAreRefusedByTheirDequantizedName()
        {
            using var temp = new TempFolder();
            var fixture = HfModelFixture.Load("gpt_oss_mxfp4");
            File.Copy(Path.Combine(fixture.Folder, "model.safetensors"), temp.File("model.safetensors"));
            var json = File.ReadAllText(Path.Combine(fixture.Folder, "config.json"));
            File.WriteAllText(temp.File("config.json"), json.Replace("\"intermediate_size\": 32", "\"intermediate_size\": 64"));

            using var checkpoint = HfCheckpoint.Open(temp.Path);
            var act = () => checkpoint.LoadLayer(0);

            var problems = act.Should().Throw<StateDictMismatchException>().Which.Problems;
            var down = problems.Should().ContainSingle(p => p.FileKey == "model.layers.0.mlp.experts.down_proj").Subject;
            down.Kind.Should().Be(StateDictProblemKind.ShapeMismatch);
            down.ExpectedShape.Should().Equal(8L, 64L, 64L);
            down.ActualShape.Should().Equal(new[] { 8L, 32L, 64L }, "down_proj_blocks [8, 64, 1, 16] dequantize to [8, 64, 32], transposed");
        }
    }
}
