using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>The model's projection with and without a LoRA adapter: PEFT's Linear update, its gradients, its merge.</summary>
    public sealed class AdaptableLinearTests
    {
        [Fact]
        public void TheAdapterAddsScaleTimesBTimesAAndStartsAtZero()
        {
            using var scope = NewDisposeScope();
            manual_seed(3);
            using var linear = new AdaptableLinear(6, 4, hasBias: true, ScalarType.Float32);
            var x = randn(5, 6);
            var baseOutput = linear.call(x);
            baseOutput.allclose(x.matmul(linear.Weight.t()) + linear.state_dict()["bias"], 1e-6, 1e-6).Should().BeTrue();

            linear.AddAdapter(rank: 2, scale: 1.5);
            linear.call(x).allclose(baseOutput, 0, 0).Should().BeTrue("B starts at zero");
            var state = linear.state_dict();
            state.Keys.Should().Equal("weight", "bias", "lora_A.weight", "lora_B.weight");
            state["lora_A.weight"].shape.Should().Equal(2, 6);
            state["lora_B.weight"].shape.Should().Equal(4, 2);
            state["lora_A.weight"].abs().max().item<float>().Should().BeLessThanOrEqualTo((float)(1 / Math.Sqrt(6)), "A is drawn uniform ±1/√in");

            using (no_grad()) state["lora_B.weight"].copy_(randn(4, 2));
            var expected = baseOutput + 1.5 * x.matmul(state["lora_A.weight"].t()).matmul(state["lora_B.weight"].t());
            linear.call(x).allclose(expected, 1e-5, 1e-6).Should().BeTrue();
        }

        [Fact]
        public void GradientsReachTheAdapterAndNeverTheFrozenWeight()
        {
            using var scope = NewDisposeScope();
            manual_seed(4);
            using var linear = new AdaptableLinear(6, 4, hasBias: true, ScalarType.Float32);
            linear.AddAdapter(rank: 3, scale: 2);
            var state = linear.state_dict();
            using (no_grad()) state["lora_B.weight"].copy_(randn(4, 3));
            var x = randn(5, 6);
            linear.call(x).pow(2).sum().backward();
            var named = linear.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            named["weight"].grad.Should().BeNull();
            named["bias"].grad.Should().BeNull();
            // d/dA of sum((xWᵀ + b + s·xAᵀBᵀ)²) = s·Bᵀ·Gᵀ·x with G = 2·y; d/dB = s·Gᵀ·(x·Aᵀ).
            var y = linear.call(x).detach();
            var g = 2 * y;
            var a = named["lora_A.weight"].detach();
            var b = named["lora_B.weight"].detach();
            named["lora_A.weight"].grad!.allclose(2 * b.t().matmul(g.t()).matmul(x), 1e-4, 1e-5).Should().BeTrue();
            named["lora_B.weight"].grad!.allclose(2 * g.t().matmul(x.matmul(a.t())), 1e-4, 1e-5).Should().BeTrue();
        }

        [Theory]
        [InlineData(ScalarType.Float32, 1e-6)]
        [InlineData(ScalarType.BFloat16, 2e-2)]
        public void MergingGivesThePlainProjectionOfTheSameFunction(ScalarType dtype, double tolerance)
        {
            using var scope = NewDisposeScope();
            manual_seed(5);
            using var linear = new AdaptableLinear(8, 4, hasBias: false, dtype);
            linear.AddAdapter(rank: 2, scale: 0.5);
            using (no_grad()) linear.state_dict()["lora_B.weight"].copy_(randn(4, 2));
            var x = randn(3, 8).to(dtype);
            var adapted = linear.call(x).to(ScalarType.Float32);
            linear.MergeAdapter();
            linear.HasAdapter.Should().BeFalse();
            linear.state_dict().Keys.Should().Equal("weight");
            linear.call(x).to(ScalarType.Float32).allclose(adapted, tolerance, tolerance).Should().BeTrue();
            var merge = () => linear.MergeAdapter();
            merge.Should().Throw<InvalidOperationException>().WithMessage("*no LoRA adapter*");
        }

        [Fact]
        public void BadRanksAndASecondAdapterAreRefused()
        {
            using var linear = new AdaptableLinear(4, 4, hasBias: false, ScalarType.Float32);
            var zero = () => linear.AddAdapter(0, 1);
            zero.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("rank");
            linear.AddAdapter(1, 1);
            var again = () => linear.AddAdapter(1, 1);
            again.Should().Throw<InvalidOperationException>().WithMessage("*already*");
        }
    }
}
