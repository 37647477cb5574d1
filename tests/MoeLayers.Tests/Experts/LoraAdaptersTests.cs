using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// LoRA adapters inside the experts part: x·W_e + s·(x·A_e)·B_e on every projection, run by the grouped products
    /// (MKL and per-expert), the padded buffer, the memory-optimized function and the reference loop, against an explicit
    /// per-token formula on merged weights W_e + s·A_e·B_e with autograd as the gradient oracle.
    /// </summary>
    public class LoraAdaptersTests
    {
        private const int Experts = 4, Width = 5, Hidden = 7, Output = 6, Rank = 3;

        public static TheoryData<ExpertActivation, bool, bool> Cases()
        {
            var data = new TheoryData<ExpertActivation, bool, bool>();
            foreach (var activation in Enum.GetValues<ExpertActivation>())
            {
                data.Add(activation, false, true);
                data.Add(activation, true, false);
            }
            return data;
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void EveryPathEqualsTheExplicitFormulaInOutputsAndGradients(ExpertActivation activation, bool bias, bool memoryOptimized)
        {
            var lora = new LoraOptions { Rank = Rank, Alpha = 6 };
            var (indices, weights, x, upstream) = Batch(seed: 3, tokens: 11, k: 2);
            var expected = Explicit(activation, bias, lora, indices, weights, x, upstream);
            var dispatchers = new (string Name, IExpertDispatcher Dispatcher)[]
            {
                ("reference loop", new ReferenceDispatcher()),
                ("grouped, MKL batched GEMM", new SortedDispatcher(DispatchStrategy.Grouped, new LibraryGroupedMatmul(MklGroupedGemm.Instance))),
                ("grouped, per-expert products", new SortedDispatcher(DispatchStrategy.Grouped, LibraryGroupedMatmul.PerExpert)),
                ("padded", new SortedDispatcher(DispatchStrategy.Padded)),
            };
            foreach (var (name, dispatcher) in dispatchers)
            {
                var actual = Run(dispatcher, activation, bias, memoryOptimized, lora, indices, weights, x, upstream);
                actual.Keys.Should().BeEquivalentTo(expected.Keys, name);
                foreach (var (key, value) in expected) TensorAssert.Close(actual[key], value, 1e-10, $"{name}: {key}");
            }
        }

        [Fact]
        public void TheMemoryOptimizedFunctionGivesTheComposedGradientsWithAdaptersOnEveryProjection()
        {
            var lora = new LoraOptions { Rank = 2, Alpha = 3, RankStabilized = true };
            var (indices, weights, x, upstream) = Batch(seed: 8, tokens: 17, k: 2);
            foreach (var activation in new[] { ExpertActivation.SwiGlu, ExpertActivation.Gelu })
            {
                var grouped = new SortedDispatcher(DispatchStrategy.Grouped, new LibraryGroupedMatmul(MklGroupedGemm.Instance));
                var composed = Run(grouped, activation, true, memoryOptimized: false, lora, indices, weights, x, upstream);
                var fused = Run(grouped, activation, true, memoryOptimized: true, lora, indices, weights, x, upstream);
                foreach (var (key, value) in composed) TensorAssert.Close(fused[key], value, 1e-11, $"{activation}: {key}");
                if (activation == ExpertActivation.SwiGlu) composed.Should().ContainKey("lora.a_gate");
            }
        }

        [Fact]
        public void TheOutputAdapterGradientSpanningSeveralRowChunksMatchesTheComposedOne()
        {
            // 1100 rows × 2048 = 2.25M elements: the backward recomputes the activation, and forms dA_out, in two chunks.
            const int hidden = 2048;
            var counts = new long[] { 600, 0, 500 };
            (counts.Sum() * hidden).Should().BeGreaterThan(ExpertMlpFunction.ChunkElements);
            var generator = new Generator(12);
            var rows = randn(new long[] { 1100, 3 }, ScalarType.Float64, generator: generator);
            var upstream = randn(new long[] { 1100, 4 }, ScalarType.Float64, generator: generator);
            var grads = new List<Dictionary<string, Tensor>>();
            foreach (var memoryOptimized in new[] { true, false })
            {
                manual_seed(13);
                var bank = new ExpertBank(3, 3, hidden, 4, ExpertActivation.SwiGlu, bias: true, memoryOptimized, new LoraOptions { Rank = 2 });
                bank.to(ScalarType.Float64);
                using (no_grad())
                {
                    foreach (var (name, parameter) in bank.named_parameters().Where(p => p.name.StartsWith("lora.b_", StringComparison.Ordinal)))
                        parameter.copy_(randn(parameter.shape, ScalarType.Float64, generator: new Generator(14)));
                }
                var input = rows.clone().requires_grad_(true);
                (bank.ForwardSorted(input, counts, zeros(1100, ScalarType.Int64), LibraryGroupedMatmul.PerExpert) * upstream).sum().backward();
                var named = bank.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad ?? zeros_like(p.parameter));
                named["x"] = input.grad!;
                grads.Add(named);
            }
            foreach (var (key, value) in grads[1]) TensorAssert.Close(grads[0][key], value, 1e-9, key);
            grads[0]["lora.a_out"][0].abs().max().item<double>().Should().BeGreaterThan(0);
            grads[0]["lora.a_out"][2].abs().max().item<double>().Should().BeGreaterThan(0, "the second chunk's experts get their gradient too");
        }

        [Fact]
        public void AnExpertWithoutTokensGetsZeroAdapterGradientsAndTheOthersGetNonZeroOnes()
        {
            var lora = new LoraOptions { Rank = Rank, Alpha = 6 };
            // Experts 0, 1 and 3 only: expert 2 receives no token.
            var indices = tensor(new long[] { 0, 1, 1, 3, 3, 0, 0, 3, 1, 0 }).reshape(5, 2);
            var weights = tensor(new[] { 0.6, 0.4, 0.7, 0.3, 0.5, 0.5, 0.9, 0.1, 0.2, 0.8 }).reshape(5, 2);
            var x = randn(new long[] { 5, Width }, ScalarType.Float64, generator: new Generator(4));
            var upstream = randn(new long[] { 5, Output }, ScalarType.Float64, generator: new Generator(5));
            var grads = Run(new SortedDispatcher(DispatchStrategy.Grouped), ExpertActivation.SwiGlu, false, true, lora, indices, weights, x, upstream);
            foreach (var key in new[] { "lora.a_in", "lora.b_in", "lora.a_gate", "lora.b_gate", "lora.a_out", "lora.b_out" })
            {
                grads[key][2].abs().max().item<double>().Should().Be(0, $"expert 2 received no token: {key}");
                foreach (var e in new[] { 0, 1, 3 }) grads[key][e].abs().max().item<double>().Should().BeGreaterThan(0, $"expert {e} received tokens: {key}");
            }
        }

        [Fact]
        public void AtInitializationTheUpMatricesAreZeroSoOnlyTheyGetGradients()
        {
            manual_seed(9);
            var bank = new ExpertBank(Experts, Width, Hidden, Output, ExpertActivation.Gelu, lora: new LoraOptions { Rank = Rank });
            var a = bank.Adapters!.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            a["b_in"].abs().max().item<float>().Should().Be(0);
            a["b_out"].abs().max().item<float>().Should().Be(0);
            var bound = 1 / Math.Sqrt(Width);
            a["a_in"].abs().max().item<float>().Should().BeInRange(0.5f * (float)bound, (float)bound, "A is drawn like nn.Linear's weight: uniform ±1/√in");
            a["a_out"].shape.Should().Equal(Experts, Hidden, Rank);
            a["b_out"].shape.Should().Equal(Experts, Rank, Output);
            bank.Adapters.Scale.Should().Be(8.0 / 3, "s = α/r with the default α = 8 and r = 3");
            new LoraOptions { Rank = 4, Alpha = 8, RankStabilized = true }.Scale.Should().Be(4, "rsLoRA: s = α/√r = 8/2");
        }

        /// <summary>Random routing, inputs and upstream gradient in float64.</summary>
        private static (Tensor Indices, Tensor Weights, Tensor X, Tensor Upstream) Batch(int seed, long tokens, int k)
        {
            var generator = new Generator((ulong)seed);
            var (routing, weights) = RandomRouting.Create(tokens, Experts, k, generator);
            var x = randn(new[] { tokens, (long)Width }, ScalarType.Float64, generator: generator);
            var upstream = randn(new[] { tokens, (long)Output }, ScalarType.Float64, generator: generator);
            return (routing.ExpertIndices, weights.detach(), x, upstream);
        }

        /// <summary>A float64 bank with biases and non-zero up matrices, drawn from one seed.</summary>
        private static ExpertBank Bank(ExpertActivation activation, bool bias, bool memoryOptimized, LoraOptions lora)
        {
            manual_seed(77);
            var bank = new ExpertBank(Experts, Width, Hidden, Output, activation, bias, memoryOptimized, lora);
            bank.to(ScalarType.Float64);
            using (no_grad())
            {
                foreach (var (name, parameter) in bank.named_parameters().Where(p => p.name.StartsWith("lora.b_", StringComparison.Ordinal)))
                    parameter.copy_(randn(parameter.shape, ScalarType.Float64) * 0.5);
                foreach (var (name, parameter) in bank.named_parameters().Where(p => !p.name.StartsWith("lora.", StringComparison.Ordinal)))
                    parameter.requires_grad_(false);
            }
            return bank;
        }

        /// <summary>The bank through a dispatcher: gradients of x and of every adapter, by name, and the output.</summary>
        private static Dictionary<string, Tensor> Run(IExpertDispatcher dispatcher, ExpertActivation activation, bool bias, bool memoryOptimized,
            LoraOptions lora, Tensor indices, Tensor weights, Tensor x, Tensor upstream)
        {
            var bank = Bank(activation, bias, memoryOptimized, lora);
            var input = x.clone().requires_grad_(true);
            var probabilities = ones(indices.shape[0], Experts) / Experts;
            var routing = new RoutingResult(indices, weights, probabilities, probabilities);
            var output = dispatcher.Dispatch(input, new RoutedTokens(routing, bank), new DispatchRules(null, DropPolicy.ByPosition, null)).Output;
            (output * upstream).sum().backward();
            var result = new Dictionary<string, Tensor> { ["output"] = output.detach(), ["x"] = input.grad! };
            foreach (var (name, parameter) in bank.named_parameters())
            {
                if (name.StartsWith("lora.", StringComparison.Ordinal)) result[name] = parameter.grad!;
                else parameter.grad.Should().BeNull($"{name} is frozen");
            }
            return result;
        }

        /// <summary>
        /// y_t = Σⱼ w_tj·(act(x_t·(W_in + s·A_in·B_in)[e] + b_in[e], x_t·(W_gate + s·A_gate·B_gate)[e] + b_gate[e])·(W_out + s·A_out·B_out)[e] + b_out[e]),
        /// token by token, with autograd through the adapters as the gradient oracle.
        /// </summary>
        private static Dictionary<string, Tensor> Explicit(ExpertActivation activation, bool bias, LoraOptions lora, Tensor indices, Tensor weights,
            Tensor x, Tensor upstream)
        {
            var bank = Bank(activation, bias, true, lora);
            var p = bank.named_parameters().ToDictionary(n => n.name, n => n.parameter.detach().clone().requires_grad_(n.name.StartsWith("lora.", StringComparison.Ordinal)));
            Tensor Merged(string projection) => p["w_" + projection] + lora.Scale * p["lora.a_" + projection].matmul(p["lora.b_" + projection]);
            var (wIn, wOut) = (Merged("in"), Merged("out"));
            var wGate = p.ContainsKey("w_gate") ? Merged("gate") : null;
            var input = x.clone().requires_grad_(true);
            var act = new ActivationFunction(activation);
            var rows = new List<Tensor>();
            var routed = indices.data<long>().ToArray();
            var k = (int)indices.shape[1];
            for (var t = 0; t < indices.shape[0]; t++)
            {
                var xt = input[t].unsqueeze(0);
                var y = zeros(1, Output, ScalarType.Float64);
                for (var j = 0; j < k; j++)
                {
                    var e = routed[t * k + j];
                    var hidden = xt.matmul(wIn[e]) + (bias ? p["b_in"][e] : 0);
                    var gate = wGate is null ? null : xt.matmul(wGate[e]) + (bias ? p["b_gate"][e] : 0);
                    y = y + weights[t, j] * (act.Apply(hidden, gate).matmul(wOut[e]) + (bias ? p["b_out"][e] : 0));
                }
                rows.Add(y);
            }
            var output = cat(rows, 0);
            (output * upstream).sum().backward();
            var result = new Dictionary<string, Tensor> { ["output"] = output.detach(), ["x"] = input.grad! };
            foreach (var (name, tensor) in p.Where(n => n.Key.StartsWith("lora.", StringComparison.Ordinal))) result[name] = tensor.grad!;
            return result;
        }
    }
}
