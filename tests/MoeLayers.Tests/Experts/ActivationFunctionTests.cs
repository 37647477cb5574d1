using System;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// The activations as values: gpt-oss's clamped SwiGLU and Nemotron-H's ReLU² against hand-computed values and
    /// derivatives, and the one <see cref="ActivationFunction.Apply"/> reaching the shared experts with the gate bias.
    /// </summary>
    public class ActivationFunctionTests
    {
        /// <summary>
        /// gpt-oss (transformers, models/gpt_oss/modeling_gpt_oss.py, GptOssExperts.forward, commit
        /// 6edf5b311854175ff83c59179b3360beca1ceffc): gate = gate.clamp(max=7); up = up.clamp(-7, 7);
        /// glu = gate·σ(1.702·gate); out = (up + 1)·glu. Expected values and derivatives computed by hand (Python's math
        /// module, double precision): points below, inside and above the limits.
        /// </summary>
        [Fact]
        public void ClampedSwiGluIsGptOssFormulaAtHandComputedPoints()
        {
            var hidden = tensor(new[] { 2.0, -9.0, 0.3, 7.5 }, ScalarType.Float64).requires_grad_(true);
            var gate = tensor(new[] { -1.0, 0.5, 8.0, 3.0 }, ScalarType.Float64).requires_grad_(true);
            var activation = new ActivationFunction(ExpertActivation.ClampedSwiGlu, 1.702, 7.0);

            var output = activation.Apply(hidden, gate);
            output.sum().backward();

            TensorAssert.Values(output).Should().Equal(new[] { -0.4626127022015361, -2.102330619638281, 9.099939066794313, 23.85542952233771 },
                (a, b) => Math.Abs(a - b) < 1e-12);
            // Zero where the clamp holds the value: the hidden beyond ±7, the gate above 7.
            TensorAssert.Values(hidden.grad!).Should().Equal(new[] { -0.1542042340671787, 0.0, 6.999953128303318, 0.0 },
                (a, b) => Math.Abs(a - b) < 1e-12);
            TensorAssert.Values(gate.grad!).Should().Equal(new[] { -0.20333881966900216, -5.2753314717924855, 0.0, 8.19638659124522 },
                (a, b) => Math.Abs(a - b) < 1e-12);
        }

        [Fact]
        public void ClampedSwiGluReadsItsAlphaAndLimit()
        {
            // α = 1, limit = 1: G' = min(2, 1) = 1, H' = clamp(0.5, −1, 1) = 0.5 → 1.5·1·σ(1) = 1.5 / (1 + e⁻¹).
            var output = new ActivationFunction(ExpertActivation.ClampedSwiGlu, Alpha: 1.0, Limit: 1.0)
                .Apply(tensor(new[] { 0.5 }, ScalarType.Float64), tensor(new[] { 2.0 }, ScalarType.Float64));
            output.item<double>().Should().BeApproximately(1.5 / (1 + Math.Exp(-1)), 1e-15);
        }

        [Fact]
        public void ReluSquaredIsTheSquareOfTheRelu()
        {
            var hidden = tensor(new[] { -1.0, 0.0, 0.5, 3.0 }, ScalarType.Float64).requires_grad_(true);
            var output = new ActivationFunction(ExpertActivation.ReluSquared).Apply(hidden, null);
            output.sum().backward();
            TensorAssert.Values(output).Should().Equal(0.0, 0.0, 0.25, 9.0);
            TensorAssert.Values(hidden.grad!).Should().Equal(0.0, 0.0, 1.0, 6.0);
        }

        [Theory]
        [InlineData(ExpertActivation.Relu, false)]
        [InlineData(ExpertActivation.Gelu, false)]
        [InlineData(ExpertActivation.ReluSquared, false)]
        [InlineData(ExpertActivation.SwiGlu, true)]
        [InlineData(ExpertActivation.ClampedSwiGlu, true)]
        public void GatedKindsAreTheTwoSwiGlus(ExpertActivation kind, bool gated)
        {
            ((ActivationFunction)kind).IsGated.Should().Be(gated);
            var bank = new ExpertBank(2, 3, 4, 5, kind, bias: true);
            bank.state_dict().Keys.Contains("w_gate").Should().Be(gated);
            bank.state_dict().Keys.Contains("b_gate").Should().Be(gated);
            if (gated)
            {
                bank.GateBias!.shape.Should().Equal(2, 4);
                var act = () => ((ActivationFunction)kind).Apply(ones(2, 4), null);
                act.Should().Throw<ArgumentNullException>().Where(e => e.ParamName == "gate");
            }
        }

        [Fact]
        public void TheLayerHandsItsOptionsConstantsToTheRoutedAndSharedExperts()
        {
            var options = new MoeLayerOptions
            {
                InputDim = 4, HiddenDim = 6, NumExperts = 4, TopK = 2, Activation = ExpertActivation.ClampedSwiGlu, SwiGluAlpha = 1.5,
                SwiGluLimit = 3.0, ExpertBias = true, SharedExperts = 1,
            };
            using var layer = new MoeLayer(options);
            layer.Experts.Activation.Should().Be(new ActivationFunction(ExpertActivation.ClampedSwiGlu, 1.5, 3.0));
            layer.state_dict().Keys.Should().Contain(new[] { "experts.b_gate", "shared_experts.w_gate", "shared_experts.b_gate" });
        }

        /// <summary>The shared experts' forward written out by hand with the clamped formula, biases on all three projections.</summary>
        [Fact]
        public void SharedExpertsApplyTheClampedSwiGluWithTheGateBias()
        {
            const double alpha = 1.3, limit = 0.4;
            manual_seed(3);
            var shared = new SharedExperts(2, 5, 3, 4, new ActivationFunction(ExpertActivation.ClampedSwiGlu, alpha, limit), bias: true, gated: false);
            shared.to(ScalarType.Float64);
            shared.state_dict().Keys.Should().BeEquivalentTo("w_in", "w_gate", "w_out", "b_in", "b_gate", "b_out");
            var x = randn(new long[] { 7, 5 }, ScalarType.Float64, generator: new Generator(4)) * 3;
            var state = shared.state_dict();

            var up = x.matmul(state["w_in"]) + state["b_in"];
            var gate = x.matmul(state["w_gate"]) + state["b_gate"];
            var clampedGate = gate.clamp_max(limit);
            var expected = ((up.clamp(-limit, limit) + 1) * clampedGate * (clampedGate * alpha).sigmoid()).matmul(state["w_out"]) + state["b_out"];

            (gate > limit).any().item<bool>().Should().BeTrue("the test must reach the gate's clamp");
            (up.abs() > limit).any().item<bool>().Should().BeTrue("the test must reach the hidden's clamp");
            TensorAssert.Close(shared.call(x), expected, 1e-12);
        }

        [Fact]
        public void SharedExpertsApplyReluSquared()
        {
            manual_seed(5);
            var shared = new SharedExperts(1, 3, 4, 2, ExpertActivation.ReluSquared, bias: true, gated: false);
            shared.to(ScalarType.Float64);
            shared.state_dict().Keys.Should().BeEquivalentTo("w_in", "w_out", "b_in", "b_out");
            var x = randn(new long[] { 6, 3 }, ScalarType.Float64, generator: new Generator(6));
            var state = shared.state_dict();
            var relu = (x.matmul(state["w_in"]) + state["b_in"]).relu();
            TensorAssert.Close(shared.call(x), (relu * relu).matmul(state["w_out"]) + state["b_out"], 1e-12);
        }
    }
}
