using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>
    /// The parts added for gpt-oss, Nemotron-H and Llama 4 (router bias, gate bias, clamped SwiGLU, ReLU², weights on the
    /// expert inputs) through the whole layer: gpt-oss's block against a hand-written loop, and every dispatch path and
    /// both expert implementations against the reference loop in outputs and in the gradient of every parameter.
    /// </summary>
    public class ModelFamilyPartsTests
    {
        /// <summary>
        /// gpt-oss's MLP block (transformers, models/gpt_oss/modeling_gpt_oss.py, commit
        /// 6edf5b311854175ff83c59179b3360beca1ceffc): GptOssTopKRouter (logits = F.linear(x, weight, bias), top-k, softmax
        /// over the k) and GptOssExperts.forward (clamped SwiGLU with biases on gate, up and down), written as a loop.
        /// </summary>
        [Fact]
        public void TheLayerIsGptOssBlockWrittenAsALoop()
        {
            manual_seed(60);
            var options = new MoeLayerOptions
            {
                InputDim = 6, HiddenDim = 5, NumExperts = 4, TopK = 2, TopKOrder = TopKOrder.TopKThenSoftmax, RouterBias = true,
                Activation = ExpertActivation.ClampedSwiGlu, ExpertBias = true, LoadBalancingCoefficient = 0, ZLossCoefficient = 0,
            };
            var layer = new MoeLayer(options);
            layer.to(ScalarType.Float64);
            using (no_grad()) layer.Router.Bias!.copy_(randn(4, generator: new Generator(61)));
            layer.Router.Bias!.dtype.Should().Be(ScalarType.Float32, "the router keeps float32 under .to(float64)");
            var generator = new Generator(62);
            // Scaled so that pre-activations pass gpt-oss's limit of 7 and the clamps take part.
            var x = randn(new long[] { 10, 6 }, ScalarType.Float64, generator: generator) * 20;
            var upstream = randn(new long[] { 10, 6 }, ScalarType.Float64, generator: generator);

            var output = layer.Run(x).Output;
            (output * upstream).sum().backward();
            var layerGradients = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            layer.zero_grad();

            var (expected, clampsReached) = GptOssLoop(layer, x, options.TopK, MoeLayerOptions.DefaultSwiGluAlpha, MoeLayerOptions.DefaultSwiGluLimit);
            (expected * upstream).sum().backward();

            clampsReached.Should().BeTrue();
            TensorAssert.Close(output, expected, 1e-9, "output");
            foreach (var (name, parameter) in layer.named_parameters())
            {
                var tolerance = parameter.dtype == ScalarType.Float32 ? 1e-4 : 1e-9;
                TensorAssert.Close(layerGradients[name], parameter.grad!, tolerance, name);
            }
            layerGradients["router.bias"].abs().sum().item<float>().Should().BeGreaterThan(0);
            layerGradients["experts.b_gate"].abs().sum().item<double>().Should().BeGreaterThan(0);
        }

        public static TheoryData<ExpertActivation, bool, double?> Cases()
        {
            var data = new TheoryData<ExpertActivation, bool, double?>();
            foreach (var activation in new[] { ExpertActivation.ClampedSwiGlu, ExpertActivation.ReluSquared, ExpertActivation.SwiGlu })
            {
                foreach (var weightInputs in new[] { false, true })
                {
                    data.Add(activation, weightInputs, null);
                    data.Add(activation, weightInputs, 0.8);
                }
            }
            return data;
        }

        /// <summary>
        /// Grouped and padded dispatch, memory-optimized and composed experts, against the reference loop: the output and
        /// the gradient of every parameter (router.weight, router.bias, experts.b_gate, shared_experts.b_gate included).
        /// </summary>
        [Theory]
        [MemberData(nameof(Cases))]
        public void EveryPathMatchesTheReferenceLoopInEveryGradient(ExpertActivation activation, bool weightInputs, double? capacityFactor)
        {
            manual_seed(70);
            var reference = new MoeLayer(Options(activation, weightInputs, capacityFactor, DispatchStrategy.Reference, memoryOptimized: true));
            reference.to(ScalarType.Float64);
            using (no_grad()) reference.Router.Bias!.copy_(randn(5, generator: new Generator(71)));
            var state = reference.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
            var generator = new Generator(72);
            var x = randn(new long[] { 2, 9, 6 }, ScalarType.Float64, generator: generator) * 2;
            var upstream = randn(new long[] { 2, 9, 4 }, ScalarType.Float64, generator: generator);
            var expected = Gradients(reference, x, upstream);
            expected["router.bias"].abs().sum().item<float>().Should().BeGreaterThan(0);

            foreach (var (strategy, memoryOptimized) in new[]
                     {
                         (DispatchStrategy.Grouped, true), (DispatchStrategy.Grouped, false), (DispatchStrategy.Padded, true),
                         (DispatchStrategy.Padded, false), (DispatchStrategy.Auto, true),
                     })
            {
                var layer = new MoeLayer(Options(activation, weightInputs, capacityFactor, strategy, memoryOptimized));
                layer.to(ScalarType.Float64);
                layer.load_state_dict(state);
                var actual = Gradients(layer, x, upstream);
                actual.Keys.Should().BeEquivalentTo(expected.Keys);
                foreach (var (name, value) in expected)
                {
                    var tolerance = value.dtype == ScalarType.Float32 ? 1e-5 : 1e-10;
                    TensorAssert.Close(actual[name], value, tolerance, $"{strategy}, memory-optimized {memoryOptimized}: {name}");
                }
            }
        }

        private static MoeLayerOptions Options(ExpertActivation activation, bool weightInputs, double? capacityFactor, DispatchStrategy strategy,
            bool memoryOptimized) => new()
            {
                InputDim = 6, HiddenDim = 5, OutputDim = 4, NumExperts = 5, TopK = 2, RouterBias = true, ExpertBias = true, Activation = activation,
                SwiGluAlpha = activation == ExpertActivation.ClampedSwiGlu ? 1.3 : MoeLayerOptions.DefaultSwiGluAlpha,
                SwiGluLimit = activation == ExpertActivation.ClampedSwiGlu ? 0.7 : MoeLayerOptions.DefaultSwiGluLimit,
                SharedExperts = 1, WeightExpertInputs = weightInputs, CapacityFactor = capacityFactor, MinCapacity = 1, Dispatch = strategy,
                MemoryOptimizedExperts = memoryOptimized, CollectStatistics = false,
            };

        /// <summary>The output (as "output") and every parameter's gradient after one backward of the task and auxiliary losses.</summary>
        private static Dictionary<string, Tensor> Gradients(MoeLayer layer, Tensor x, Tensor upstream)
        {
            var run = layer.Run(x);
            ((run.Output * upstream).sum() + run.AuxiliaryLoss).backward();
            var values = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            values["output"] = run.Output.detach();
            return values;
        }

        private static (Tensor Output, bool ClampsReached) GptOssLoop(MoeLayer layer, Tensor x, int k, double alpha, double limit)
        {
            var experts = layer.Experts;
            var (wIn, wGate, wOut) = (experts.InputWeight, experts.GateWeight!, experts.OutputWeight);
            var parameters = experts.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var (bIn, bGate, bOut) = (parameters["b_in"], parameters["b_gate"], parameters["b_out"]);
            var logits = nn.functional.linear(x.to(ScalarType.Float32), layer.Router.Weight, layer.Router.Bias);
            var rows = new List<Tensor>();
            var clamps = false;
            for (var t = 0; t < x.shape[0]; t++)
            {
                var token = x[t].unsqueeze(0);
                var (values, indices) = logits[t].topk(k);
                var weights = values.softmax(0).to(ScalarType.Float64);
                var y = zeros(1, x.shape[1], ScalarType.Float64);
                for (var j = 0; j < k; j++)
                {
                    var e = indices[j].item<long>();
                    var gate = token.matmul(wGate[e]) + bGate[e];
                    var up = token.matmul(wIn[e]) + bIn[e];
                    clamps |= (gate > limit).any().item<bool>() && (up.abs() > limit).any().item<bool>();
                    gate = gate.clamp_max(limit);
                    up = up.clamp(-limit, limit);
                    var glu = gate * (gate * alpha).sigmoid();
                    y = y + ((up + 1) * glu).matmul(wOut[e]).add(bOut[e]) * weights[j];
                }
                rows.Add(y);
            }
            return (cat(rows, 0), clamps);
        }
    }
}
