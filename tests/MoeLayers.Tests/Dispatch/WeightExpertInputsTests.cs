using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Dispatch
{
    /// <summary>
    /// <see cref="MoeLayerOptions.WeightExpertInputs"/>: the routing weight multiplies the expert's input and the combine
    /// sums with weight 1, as Llama 4's Llama4TextMoe does (transformers, models/llama4/modeling_llama4.py, commit
    /// 000c33fdfde12e1ffafbfcdb3c926df5727a00b6: router_scores = sigmoid(top-k logits scattered over −∞);
    /// routed_in = hidden_states · router_scores; out = shared_expert(hidden_states) + Σ experts(routed_in)).
    /// </summary>
    public class WeightExpertInputsTests
    {
        /// <summary>The Llama 4 block by a hand-written loop over tokens and their chosen experts, in outputs and every gradient.</summary>
        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        public void TheLayerIsLlama4sBlockWrittenAsALoop(int k)
        {
            manual_seed(40 + k);
            var options = new MoeLayerOptions
            {
                InputDim = 6, HiddenDim = 5, NumExperts = 4, TopK = k, ScoreFunction = ScoreFunction.Sigmoid, RenormalizeWeights = k > 1 ? false : null,
                Activation = ExpertActivation.SwiGlu, SharedExperts = 1, WeightExpertInputs = true, LoadBalancingCoefficient = 0, ZLossCoefficient = 0,
            };
            var layer = new MoeLayer(options);
            layer.to(ScalarType.Float64);
            var generator = new Generator(7);
            var x = randn(new long[] { 9, 6 }, ScalarType.Float64, generator: generator);
            var upstream = randn(new long[] { 9, 6 }, ScalarType.Float64, generator: generator);

            var output = layer.Run(x).Output;
            (output * upstream).sum().backward();
            var layerGradients = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            layer.zero_grad();

            var expected = Llama4Loop(layer, x, k);
            (expected * upstream).sum().backward();

            TensorAssert.Close(output, expected, 1e-12, "output");
            foreach (var (name, parameter) in layer.named_parameters())
            {
                var tolerance = parameter.dtype == ScalarType.Float32 ? 1e-5 : 1e-12;
                TensorAssert.Close(layerGradients[name], parameter.grad!, tolerance, name);
            }
            layerGradients["router.weight"].abs().sum().item<float>().Should().BeGreaterThan(0, "the task loss reaches the router through the scaled inputs");
        }

        public static TheoryData<int, ExpertActivation, double?, DropPolicy> Configurations()
        {
            var data = new TheoryData<int, ExpertActivation, double?, DropPolicy>();
            var activations = Enum.GetValues<ExpertActivation>();
            for (var i = 0; i < 10; i++)
                data.Add(i, activations[i % activations.Length], i % 3 == 0 ? null : 0.6 + 0.2 * i, i % 4 == 1 ? DropPolicy.ByWeight : DropPolicy.ByPosition);
            return data;
        }

        /// <summary>Grouped (MKL, per-expert) and padded dispatch against the reference loop's own implementation of the option.</summary>
        [Theory]
        [MemberData(nameof(Configurations))]
        public void EveryDispatchMatchesTheReferenceLoop(int seed, ExpertActivation activation, double? factor, DropPolicy policy)
        {
            const long tokens = 23;
            const int experts = 5, k = 2;
            var capacity = Capacity.Compute(factor, tokens, k, experts, 1);
            var reference = Run(new ReferenceDispatcher(), seed, activation, capacity, policy, tokens, experts, k);
            foreach (var (name, dispatcher) in new (string, IExpertDispatcher)[]
                     {
                         ("grouped, MKL", new SortedDispatcher(DispatchStrategy.Grouped, new LibraryGroupedMatmul(MklGroupedGemm.Instance))),
                         ("grouped, per expert", new SortedDispatcher(DispatchStrategy.Grouped, LibraryGroupedMatmul.PerExpert)),
                         ("padded", new SortedDispatcher(DispatchStrategy.Padded)),
                     })
            {
                var actual = Run(dispatcher, seed, activation, capacity, policy, tokens, experts, k);
                for (var i = 0; i < reference.Length; i++) TensorAssert.Close(actual[i], reference[i], 1e-10, $"{name}, tensor #{i}");
            }
        }

        [Fact]
        public void TheOptionChangesTheFunction()
        {
            var weighted = Run(new ReferenceDispatcher(), 3, ExpertActivation.Gelu, null, DropPolicy.ByPosition, 11, 4, 2, weightInputs: true);
            var plain = Run(new ReferenceDispatcher(), 3, ExpertActivation.Gelu, null, DropPolicy.ByPosition, 11, 4, 2, weightInputs: false);
            (weighted[0] - plain[0]).abs().max().item<double>().Should().BeGreaterThan(1e-3);
        }

        [Fact]
        public void TheFusedCudaDispatchIsNeverChosenForIt()
        {
            var gpu = new Device(DeviceType.CUDA, 0);
            var accelerator = new StandInAccelerator();
            var options = new MoeLayerOptions { InputDim = 4, HiddenDim = 4, NumExperts = 4, TopK = 2 };
            new DispatchPaths(options, null).Choose(gpu, _ => null, () => accelerator).Accelerator.Should().BeSameAs(accelerator);
            options.WeightExpertInputs = true;
            var path = new DispatchPaths(options, null).Choose(gpu, _ => null, () => accelerator);
            path.Accelerator.Should().BeNull("the fused kernels weigh the outputs");
            path.Dispatcher.Should().BeOfType<SortedDispatcher>();
        }

        /// <summary>y_t = shared(x_t) + Σ over the top-k experts e of E_e(σ(z_{t,e})·x_t), E_e(v) = (SiLU(v·W_gate) ⊙ v·W_in)·W_out.</summary>
        private static Tensor Llama4Loop(MoeLayer layer, Tensor x, int k)
        {
            var router = layer.Router.Weight;
            var (wIn, wGate, wOut) = (layer.Experts.InputWeight, layer.Experts.GateWeight!, layer.Experts.OutputWeight);
            var shared = layer.Shared!;
            var logits = x.to(ScalarType.Float32).matmul(router.t());
            var rows = new List<Tensor>();
            for (var t = 0; t < x.shape[0]; t++)
            {
                var token = x[t].unsqueeze(0);
                var y = (token.matmul(shared.GateWeight!).silu() * token.matmul(shared.InputWeight)).matmul(shared.OutputWeight);
                var chosen = logits[t].topk(k).indexes;
                for (var j = 0; j < k; j++)
                {
                    var e = chosen[j].item<long>();
                    var routedIn = token * logits[t][e].sigmoid().to(ScalarType.Float64);
                    y = y + (routedIn.matmul(wGate[e]).silu() * routedIn.matmul(wIn[e])).matmul(wOut[e]);
                }
                rows.Add(y);
            }
            return cat(rows, 0);
        }

        private static Tensor[] Run(IExpertDispatcher dispatcher, int seed, ExpertActivation activation, long? capacity, DropPolicy policy,
            long tokens, int experts, int k, bool weightInputs = true)
        {
            const int width = 6;
            manual_seed(seed);
            var bank = new ExpertBank(experts, width, width + 2, width - 1, new ActivationFunction(activation, 1.4, 0.6), bias: true);
            bank.to(ScalarType.Float64);
            var generator = new Generator((ulong)seed + 100);
            var x = randn(new[] { tokens, (long)width }, ScalarType.Float64, generator: generator).requires_grad_(true);
            var (routing, weights) = RandomRouting.Create(tokens, experts, k, generator);
            var upstream = randn(new[] { tokens, (long)width - 1 }, ScalarType.Float64, generator: generator);
            var rules = new DispatchRules(capacity, policy, null) { WeightExpertInputs = weightInputs };
            var output = dispatcher.Dispatch(x, new RoutedTokens(routing, bank), rules).Output;
            (output * upstream).sum().backward();
            return new[] { output.detach(), x.grad!, weights.grad! }.Concat(bank.parameters().Select(p => p.grad!)).ToArray();
        }

        private sealed class StandInAccelerator : IDispatchAccelerator
        {
            private readonly IExpertDispatcher _dispatcher = new ReferenceDispatcher();

            public string Name => "stand-in";

            public IExpertDispatcher Dispatcher(DispatchStrategy strategy) => _dispatcher;

            public string? Unavailable(Tensor input, int numExperts, int topK) => null;

            public AcceleratedRouting? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize) => null;
        }
    }
}
