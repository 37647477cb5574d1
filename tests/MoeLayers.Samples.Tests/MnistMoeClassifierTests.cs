using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Model;
using TorchSharp;

namespace MoeLayers.Samples.Tests
{
    [Collection(TorchTrainingCollection.Name)]
    public sealed class MnistMoeClassifierTests
    {
        [Fact]
        public void The_layer_options_are_the_studys_model()
        {
            var options = new MnistMoeSettings(8, 2, 0.01, RouterKind.NoisyTopK).ToLayerOptions();

            options.InputDim.Should().Be(784);
            options.HiddenDim.Should().Be(10);
            options.OutputDim.Should().Be(10);
            options.NumExperts.Should().Be(8);
            options.TopK.Should().Be(2);
            options.Router.Should().Be(RouterKind.NoisyTopK);
            options.Activation.Should().Be(ExpertActivation.Relu);
            options.ExpertBias.Should().BeTrue();
            options.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.ImportanceLoad);
            options.LoadBalancingCoefficient.Should().Be(0.01);
            options.ZLossCoefficient.Should().Be(0);
            options.CapacityFactor.Should().BeNull();
        }

        [Fact]
        public void Parameters_are_a_bias_free_router_and_ne_experts_784_10_10()
        {
            using var model = new MnistMoeClassifier(new MnistMoeSettings(5, 2, 0.1));

            var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);

            shapes.Should().BeEquivalentTo(new System.Collections.Generic.Dictionary<string, long[]>
            {
                ["moe.router.weight"] = new long[] { 5, 784 },
                ["moe.experts.w_in"] = new long[] { 5, 784, 10 },
                ["moe.experts.b_in"] = new long[] { 5, 10 },
                ["moe.experts.w_out"] = new long[] { 5, 10, 10 },
                ["moe.experts.b_out"] = new long[] { 5, 10 },
            });
        }

        [Fact]
        public void Flat_and_square_images_give_the_same_logits()
        {
            torch.manual_seed(1);
            using var model = new MnistMoeClassifier(new MnistMoeSettings(4, 2, 0));
            using var images = torch.rand(6, 28, 28);

            using var square = model.call(images);
            using var flat = model.call(images.reshape(6, 784));

            square.shape.Should().Equal(6L, 10L);
            flat.data<float>().ToArray().Should().Equal(square.data<float>().ToArray());
            MoeAuxiliaryLoss.Collect(model).item<float>().Should().Be(0f, "lc = 0 and no z-loss");
        }

        [Fact]
        public void Images_of_the_wrong_size_are_rejected()
        {
            using var model = new MnistMoeClassifier(new MnistMoeSettings(2, 1, 0));
            using var images = torch.rand(3, 100);

            model.Invoking(m => m.call(images)).Should().Throw<ArgumentException>()
                .WithMessage("images must have shape [B, 784] or [B, 28, 28]; got [3, 100].*");
        }
    }
}
