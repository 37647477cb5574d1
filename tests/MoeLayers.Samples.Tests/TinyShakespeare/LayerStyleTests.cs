using System;
using System.Linq;
using System.Text.Json;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    [Collection(TorchRandomCollection.Name)]
    public sealed class LayerStyleTests
    {
        private static ModelConfig QuickPlain => Preset.Quick.Model with { VocabularySize = 65, Router = RouterKind.TopK };

        [Theory]
        [InlineData(LayerStyle.DeepSeek)]
        [InlineData(LayerStyle.Qwen)]
        public void Styles_split_the_quick_experts_into_fine_ones_and_one_shared_expert_at_the_same_active_and_total_width(LayerStyle style)
        {
            var plain = QuickPlain;

            var styled = LayerStyles.Apply(plain, style);

            styled.Style.Should().Be(style);
            styled.Router.Should().Be(RouterKind.TopK);
            styled.Experts.Should().Be(12, "m·(E − 1) = 4·3");
            styled.TopK.Should().Be(4, "m·(k − 1) = 4·1");
            styled.ExpertHiddenDim.Should().Be(64, "h/m = 256/4");
            styled.SharedExperts.Should().Be(1);
            styled.SharedHiddenDim.Should().Be(256);
            (styled.TopK * styled.ExpertHiddenDim + styled.SharedHiddenDim).Should().Be(plain.TopK * plain.ExpertHiddenDim, "active width 4·64 + 256 = 2·256");
            (styled.Experts * styled.ExpertHiddenDim + styled.SharedHiddenDim).Should().Be(plain.Experts * plain.ExpertHiddenDim, "total width 12·64 + 256 = 4·256");
        }

        [Fact]
        public void Matched_width_means_matched_active_expert_weights_and_the_parameter_counts_differ_only_by_router_biases_and_gate()
        {
            using var scope = NewDisposeScope();
            const int c = 64;
            static long Expert(int h) => 2L * c * h + h + c; // ReLU expert with biases: W_in, b_in, W_out, b_out

            // Active per token: plain 2 experts of 256; styled 4 of 64 + the shared 256. Weights equal, biases 832 vs 640.
            (2 * (2L * c * 256)).Should().Be(4 * (2L * c * 64) + 2L * c * 256);
            (2 * Expert(256)).Should().Be(66_176);
            (4 * Expert(64) + Expert(256)).Should().Be(66_368);

            var plain = new CharTransformer(QuickPlain);
            var deepSeek = new CharTransformer(LayerStyles.Apply(QuickPlain, LayerStyle.DeepSeek));
            var qwen = new CharTransformer(LayerStyles.Apply(QuickPlain, LayerStyle.Qwen));

            // Per layer: experts 12·8,320 + 33,088 = 132,928 against 4·33,088 = 132,352 (+576 biases); router 64·12 against 64·4 (+512).
            plain.ParameterCount.Should().Be(607_809);
            deepSeek.ParameterCount.Should().Be(607_809 + 4 * (576 + 512)).And.Be(612_161);
            qwen.ParameterCount.Should().Be(612_161 + 4 * 64, "the shared-expert gate is one unit over C = 64 inputs per layer");
        }

        [Fact]
        public void DeepSeek_style_is_sigmoid_top_k_with_the_aux_loss_free_bias_and_a_plain_shared_expert()
        {
            var o = LayerStyles.Apply(QuickPlain, LayerStyle.DeepSeek).ToMoeOptions();

            o.Router.Should().Be(RouterKind.TopK);
            o.ScoreFunction.Should().Be(ScoreFunction.Sigmoid);
            o.RenormalizeWeights.Should().BeTrue();
            o.RoutedScalingFactor.Should().Be(1.0);
            o.BalanceBias.Should().BeTrue();
            o.BalanceBiasRate.Should().Be(1e-3);
            o.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.None);
            o.ZLossCoefficient.Should().Be(0);
            o.SharedExperts.Should().Be(1);
            o.EffectiveSharedHiddenDim.Should().Be(256);
            o.SharedExpertGate.Should().BeFalse();
            o.NumExperts.Should().Be(12);
            o.TopK.Should().Be(4);
            o.HiddenDim.Should().Be(64);
            o.Activation.Should().Be(ExpertActivation.Relu, "the same ReLU experts with biases as every other router");
            o.ExpertBias.Should().BeTrue();
            o.Causal.Should().BeTrue();
            MoeLayerOptionsValidator.Failures(o).Should().BeEmpty();
        }

        [Fact]
        public void Qwen_style_is_softmax_top_k_without_renormalization_and_a_gated_shared_expert()
        {
            var o = LayerStyles.Apply(QuickPlain, LayerStyle.Qwen).ToMoeOptions();

            o.ScoreFunction.Should().Be(ScoreFunction.Softmax);
            o.RenormalizeWeights.Should().BeFalse("Qwen2-MoE's norm_topk_prob = false");
            o.BalanceBias.Should().BeFalse();
            o.SharedExperts.Should().Be(1);
            o.SharedExpertGate.Should().BeTrue();
            o.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.Switch);
            o.LoadBalancingCoefficient.Should().Be(0.01);
            o.Activation.Should().Be(ExpertActivation.Relu);
            MoeLayerOptionsValidator.Failures(o).Should().BeEmpty();
        }

        [Fact]
        public void Styles_need_the_top_k_router_two_experts_per_token_and_a_divisible_width()
        {
            var deepSeek = LayerStyles.Apply(QuickPlain, LayerStyle.DeepSeek);

            (deepSeek with { Router = RouterKind.NoisyTopK }).Invoking(c => c.Validate()).Should().Throw<ArgumentException>().WithMessage("*top-k router*");
            (deepSeek with { SharedExperts = 0 }).Invoking(c => c.Validate()).Should().Throw<ArgumentException>().WithMessage("*shared expert*");
            FluentActions.Invoking(() => LayerStyles.Apply(QuickPlain with { TopK = 1 }, LayerStyle.Qwen)).Should().Throw<ArgumentException>().WithMessage("*k ≥ 2*");
            FluentActions.Invoking(() => LayerStyles.Apply(QuickPlain with { ExpertHiddenDim = 30 }, LayerStyle.Qwen)).Should().Throw<ArgumentException>().WithMessage("*divisible by 4*");
            LayerStyles.Apply(QuickPlain, LayerStyle.Plain).Should().Be(QuickPlain);
        }

        [Fact]
        public void A_checkpoint_config_written_before_styles_reads_as_a_plain_layer_and_a_styled_one_round_trips()
        {
            var old = """{"VocabularySize":65,"EmbedDim":64,"Heads":4,"Layers":4,"BlockSize":32,"Experts":4,"TopK":2,"Router":"NoisyTopK","ExpertHiddenDim":256,"Dropout":0}""";

            var plain = JsonSerializer.Deserialize<ModelConfig>(old, Checkpoint.JsonOptions)!;
            var styled = LayerStyles.Apply(QuickPlain, LayerStyle.DeepSeek);
            var back = JsonSerializer.Deserialize<ModelConfig>(JsonSerializer.Serialize(styled, Checkpoint.JsonOptions), Checkpoint.JsonOptions);

            plain.Style.Should().Be(LayerStyle.Plain);
            plain.SharedExperts.Should().Be(0);
            plain.Should().Be(Preset.Quick.Model with { VocabularySize = 65 });
            JsonSerializer.Serialize(styled, Checkpoint.JsonOptions).Should().Contain("\"Style\": \"DeepSeek\"");
            back.Should().Be(styled);
        }

        [Fact]
        public void A_deepseek_training_step_moves_the_balance_bias_by_gamma_per_expert()
        {
            using var scope = NewDisposeScope();
            var model = TinyModels.Model(new RouterChoice(RouterKind.TopK, LayerStyle.DeepSeek));
            Tensor[] Biases() => model.state_dict().Where(kv => kv.Key.EndsWith("correction_bias", StringComparison.Ordinal)).Select(kv => kv.Value.clone()).ToArray();
            Biases().Should().HaveCount(model.Config.Layers).And.OnlyContain(b => b.abs().max().item<float>() == 0f);

            new Trainer(model, TinyModels.Corpus(), TinyModels.Settings(iterations: 1)).Run();

            // One AfterOptimizerStep: b = γ·sign(mean load − load), so every entry is −γ, 0 or +γ and some moved.
            foreach (var bias in Biases())
            {
                var values = bias.data<float>().ToArray();
                values.Should().OnlyContain(v => Math.Abs(Math.Abs(v) - 1e-3f) < 1e-7f || v == 0f);
                values.Should().Contain(v => v != 0f, "the trainer calls MoeLoadBalancing.AfterOptimizerStep after optimizer.step()");
            }
            model.MoeLayers[0].Statistics!.BalanceBias.Should().NotBeNull();
        }
    }
}
