using System.IO;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Families
{
    /// <summary>
    /// ernie4_5_moe: transformers' defaults (configuration_ernie4_5_moe.py @ 001f85b38fb432858ace93f18622f07cec46d874),
    /// the start/end/interval schedule, the refusals, and the reason MoeLayers' ÷ (Σ + 1e-20) reproduces ERNIE's
    /// ÷ clamp(Σ, moe_norm_min) exactly in float32.
    /// </summary>
    public class Ernie45MoeConfigTests
    {
        [Fact]
        public void AbsentFieldsTakeTransformersDefaults()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "ernie4_5_moe" }""");

            config.Architecture.Should().Be(HfArchitecture.Ernie45Moe);
            (config.HiddenSize, config.NumLayers, config.ExpertWidth, config.NumExperts, config.TopK).Should().Be((2560, 28, 1536, 64, 6));
            (config.SharedExperts, config.SharedWidth, config.SharedExpertGate).Should().Be((2, 1536, false));
            (config.NormalizeTopK, config.HasBalanceBias, config.ScoreFunction).Should().Be((true, true, ScoreFunction.Softmax));
            config.MoeLayerIndices.Should().Equal(System.Linq.Enumerable.Range(1, 27), "moe_layer_start_index 1, end -1 (the last layer), interval 1");
            config.DenseReason(0).Should().Be("moe_layer_start_index = 1 makes layers before 1 dense");
            var options = config.ToOptions();
            (options.BalanceBias, options.RenormalizeWeights, options.SharedHiddenDim, options.LoadBalancingLoss)
                .Should().Be((true, true, 1536, LoadBalancingLossKind.None), "SharedHiddenDim is each shared expert's width; the two make one MLP of 2 × 1536");
        }

        [Fact]
        public void TheScheduleNamesEachFieldThatMakesALayerDense()
        {
            var config = HfMoeConfig.Parse("""
                { "model_type": "ernie4_5_moe", "num_hidden_layers": 8, "moe_layer_start_index": 2, "moe_layer_end_index": 6,
                  "moe_layer_interval": 2 }
                """);

            config.MoeLayerIndices.Should().Equal(3, 5);
            config.DenseReason(1).Should().Be("moe_layer_start_index = 2 makes layers before 2 dense");
            config.DenseReason(4).Should().Be("moe_layer_interval = 2 makes only layers i with (i + 1) % 2 == 0 MoE");
            config.DenseReason(7).Should().Be("moe_layer_end_index = 6 makes layers after 6 dense");
        }

        [Fact]
        public void TheTransformersAliasesAreRead()
        {
            var config = HfMoeConfig.Parse("""{ "model_type": "ernie4_5_moe", "num_experts": 16, "num_experts_per_tok": 4 }""");
            (config.NumExperts, config.TopK).Should().Be((16, 4));
        }

        [Theory]
        [InlineData("""{ "model_type": "ernie4_5_moe", "use_bias": true }""", "*'use_bias' = true*not supported by MoeLayers*")]
        [InlineData("""{ "model_type": "ernie4_5_moe", "moe_k": 1 }""", "*'moe_k' = 1*exactly 1*")]
        [InlineData("""{ "model_type": "ernie4_5_moe", "moe_num_experts": 8, "moe_k": 9 }""", "*'moe_k' must be in [1, moe_num_experts = 8]; got 9*")]
        [InlineData("""{ "model_type": "ernie4_5_moe", "moe_num_experts": 64, "moe_k": 2, "moe_norm_min": 0.02 }""", "*'moe_norm_min' = 0.02 could bind*2/64*")]
        [InlineData("""{ "model_type": "ernie4_5_moe", "moe_layer_end_index": -2 }""", "*'moe_layer_end_index' must be -1 (the last layer) or a layer index ≥ 0; got -2*")]
        [InlineData("""{ "model_type": "ernie4_5_moe", "moe_layer_interval": 0 }""", "*'moe_layer_interval' must be at least 1; got 0*")]
        public void ContradictionsAreRefusedNamingTheField(string json, string message)
        {
            var act = () => HfMoeConfig.Parse(json);
            act.Should().Throw<InvalidDataException>().WithMessage(message);
        }

        [Fact]
        public void ClampedSumAndEpsilonSumDivideIdenticallyInFloat32()
        {
            // ERNIE: p / clamp(Σp, min = 1e-12); MoeLayers: p / (Σp + 1e-20). Σp ≥ k/E, far above both constants: peaked,
            // flat and ordinary softmax rows give bit-identical weights.
            using var scope = NewDisposeScope();
            manual_seed(7);
            var logits = cat(new[] { randn(256, 64) * 3, randn(16, 64) * 40, zeros(8, 64) });
            var probs = logits.softmax(-1);
            var chosen = probs.gather(1, probs.topk(6, dim: -1).indexes);
            var sum = chosen.sum(-1, keepdim: true);

            var ernie = chosen / sum.clamp_min(1e-12);
            var core = chosen / (sum + 1e-20);

            ernie.eq(core).all().item<bool>().Should().BeTrue("the two divisions give the same float32 bits");
            sum.min().item<float>().Should().BeGreaterThanOrEqualTo(6f / 64 * 0.9999f);
        }
    }
}
