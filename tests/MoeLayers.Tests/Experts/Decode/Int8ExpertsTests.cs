using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts.Decode
{
    /// <summary>
    /// Weight-only int8 experts: the quantization formula on hand-computed values, a quantized layer against the float
    /// layer holding the dequantized weights (decode path and grouped fallback), the training refusal, the state-dict keys
    /// and a save/load round trip.
    /// </summary>
    public class Int8ExpertsTests
    {
        [Fact]
        public void QuantizationScalesEachOutputColumnByItsLargestMagnitudeOver127AndRoundsHalfToEven()
        {
            // Column 0: max |w| = 1 → s = 1/127, q = 127 and round(0.254·127 = 32.258) = 32.
            // Column 1: max |w| = 0.5 → s = 0.5/127, q = −127 and round(0.25·254 = 63.5) = 64 (half to even).
            // Column 2: zeros → s = 0, q = 0.
            var w = tensor(new float[] { 1f, -0.5f, 0f, 0.254f, 0.25f, 0f }).reshape(1, 2, 3);
            var (q, s) = Int8Quantization.Quantize(w);
            q.dtype.Should().Be(ScalarType.Int8);
            q.data<sbyte>().ToArray().Should().Equal(127, -127, 0, 32, 64, 0);
            s.data<float>().ToArray().Should().Equal(1f / 127, 0.5f / 127, 0f);
        }

        [Theory]
        [InlineData(1, true)]
        [InlineData(8, true)]
        [InlineData(1, false)]
        [InlineData(64, true)]
        public void AQuantizedLayerComputesTheFloatLayerWithTheDequantizedWeights(int tokens, bool decode)
        {
            var (layer, options) = Trained(ExpertActivation.SwiGlu, bias: true);
            var quantized = MoeQuantization.ToInt8Experts(layer);
            quantized.training.Should().BeFalse("the quantized layer is made in evaluation mode");
            var dequantized = new MoeLayer(options);
            var state = layer.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
            foreach (var key in new[] { "experts.w_in", "experts.w_gate", "experts.w_out" })
            {
                var (values, scales) = Int8Quantization.Quantize(state[key]);
                state[key] = Int8Quantization.Dequantize(values, scales, ScalarType.Float32);
            }
            dequantized.load_state_dict(state);
            dequantized.eval();
            manual_seed(tokens);
            var x = randn(tokens, options.InputDim);
            using var noGrad = no_grad();
            // T = 1 and 8 run the decode kernels on the int8 values; T = 64, or the path switched off, the grouped products
            // on the active experts' weights dequantized for the call (at T = 1 two of the eight experts).
            var actual = decode ? quantized.call(x) : ExpertDecodeTests.WithoutDecode(() => quantized.call(x));
            var expected = ExpertDecodeTests.WithoutDecode(() => dequantized.call(x));
            TensorAssert.Close(actual, expected, 1e-5, "W = q·s is the same function whether the scale multiplies the weight or the sum");
            (actual - layer.call(x)).abs().max().item<float>().Should().BeGreaterThan(0, "int8 changes the weights");
        }

        [Fact]
        public void ATrainingForwardIsRefusedByName()
        {
            var (layer, options) = Trained(ExpertActivation.Gelu, bias: false);
            var quantized = MoeQuantization.ToInt8Experts(layer);
            quantized.train();
            var act = () => quantized.call(randn(2, options.InputDim));
            act.Should().Throw<InvalidOperationException>().WithMessage("*int8 experts (MoeLayerOptions.Int8Experts) run in evaluation mode only*eval()*");
        }

        [Fact]
        public void TheStateDictHoldsInt8WeightsAndFloat32ScalesAndARoundTripThroughAFileGivesTheSameOutputs()
        {
            var (layer, options) = Trained(ExpertActivation.SwiGlu, bias: true);
            var quantized = MoeQuantization.ToInt8Experts(layer);
            var state = quantized.state_dict();
            var (e, d, h) = ((long)options.NumExperts, (long)options.InputDim, (long)options.HiddenDim);
            foreach (var (key, shape) in new[] { ("experts.w_in", new[] { e, d, h }), ("experts.w_gate", new[] { e, d, h }), ("experts.w_out", new[] { e, h, d }) })
            {
                state[key].dtype.Should().Be(ScalarType.Int8, key);
                state[key].shape.Should().Equal(shape, key);
                state[key + "_scale"].dtype.Should().Be(ScalarType.Float32);
                state[key + "_scale"].shape.Should().Equal(new[] { e, shape[2] });
            }
            state.Keys.Where(k => k.StartsWith("experts.", StringComparison.Ordinal)).Order().Should().Equal(
                "experts.b_gate", "experts.b_in", "experts.b_out", "experts.w_gate", "experts.w_gate_scale", "experts.w_in",
                "experts.w_in_scale", "experts.w_out", "experts.w_out_scale");

            var path = Path.Combine(Path.GetTempPath(), $"int8-experts-{Guid.NewGuid():N}.bin");
            try
            {
                quantized.save(path);
                options.Int8Experts = true;
                var loaded = new MoeLayer(options);
                loaded.load(path);
                loaded.eval();
                var x = randn(3, options.InputDim);
                using var noGrad = no_grad();
                TensorAssert.Values(loaded.call(x)).Should().Equal(TensorAssert.Values(quantized.call(x)));
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void AutonomyOfExpertsHasNoInt8Form()
        {
            var options = new MoeLayerOptions
            {
                InputDim = 16, HiddenDim = 8, NumExperts = 4, TopK = 2, Router = RouterKind.AutonomyOfExperts, LowRank = 4,
                Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0, Int8Experts = true,
            };
            MoeLayerOptionsValidator.Failures(options).Should().ContainSingle(f => f.Contains("Int8Experts must be false for the AutonomyOfExperts router"));
            options.Int8Experts = false;
            var act = () => MoeQuantization.ToInt8Experts(new MoeLayer(options));
            act.Should().Throw<ArgumentException>().WithMessage("*Autonomy-of-Experts*no int8 form*");
        }

        /// <summary>A layer after a few optimizer steps, so its weights are not the initial draw.</summary>
        private static (MoeLayer Layer, MoeLayerOptions Options) Trained(ExpertActivation activation, bool bias)
        {
            manual_seed(31);
            var options = new MoeLayerOptions
            {
                InputDim = 48, HiddenDim = 40, NumExperts = 8, TopK = 2, Activation = activation, ExpertBias = bias, SharedExperts = 1,
            };
            var layer = new MoeLayer(options);
            var optimizer = optim.AdamW(layer.parameters(), 1e-2);
            for (var step = 0; step < 3; step++)
            {
                optimizer.zero_grad();
                var output = layer.Run(randn(32, options.InputDim));
                (output.Output.square().mean() + output.AuxiliaryLoss).backward();
                optimizer.step();
            }
            layer.eval();
            return (layer, options);
        }
    }
}
