using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Dispatch
{
    public class DispatchEquivalenceTests
    {
        public static TheoryData<int, long, int, int, long, ExpertActivation, bool, double?, DropPolicy> Configurations()
        {
            var data = new TheoryData<int, long, int, int, long, ExpertActivation, bool, double?, DropPolicy>();
            var rng = new Random(1234);
            var activations = Enum.GetValues<ExpertActivation>();
            for (var i = 0; i < 12; i++)
            {
                var experts = rng.Next(1, 9);
                var k = rng.Next(1, Math.Min(experts, 3) + 1);
                double? factor = i % 3 == 0 ? null : 0.5 + rng.NextDouble();
                data.Add(i, rng.Next(1, 40), experts, k, rng.Next(1, 12), activations[i % activations.Length], i % 2 == 0,
                    factor, i % 4 == 1 ? DropPolicy.ByWeight : DropPolicy.ByPosition);
            }
            return data;
        }

        [Theory]
        [MemberData(nameof(Configurations))]
        public void GroupedAndPaddedMatchReferenceInOutputsAndGradients(int seed, long tokens, int experts, int k, long width,
            ExpertActivation activation, bool bias, double? factor, DropPolicy policy)
        {
            var capacity = Capacity.Compute(factor, tokens, k, experts, 1);
            var reference = Run(new ReferenceDispatcher(), seed, tokens, experts, k, width, activation, bias, capacity, policy);
            using var events = new MoeLayersEventCapture();
            var dispatchers = new (string Name, IExpertDispatcher Dispatcher)[]
            {
                ("grouped, MKL batched GEMM", new SortedDispatcher(DispatchStrategy.Grouped, new LibraryGroupedMatmul(MklGroupedGemm.Instance))),
                ("grouped, per-expert products", new SortedDispatcher(DispatchStrategy.Grouped, LibraryGroupedMatmul.PerExpert)),
                ("padded", new SortedDispatcher(DispatchStrategy.Padded)),
            };
            foreach (var (name, dispatcher) in dispatchers)
            {
                var actual = Run(dispatcher, seed, tokens, experts, k, width, activation, bias, capacity, policy);
                actual.Kept.Should().Equal(reference.Kept, name);
                for (var i = 0; i < reference.Tensors.Length; i++)
                {
                    TensorAssert.Close(actual.Tensors[i], reference.Tensors[i], 1e-10, $"{name} tensor #{i}");
                }
            }
            if (Experts.MklGroupedGemmTests.MklExpected) events.From(MklGroupedGemm.Instance.Name).Should().BeEmpty("float64 CPU rows take MKL's batched GEMM on linux-x64");
        }

        private static (long[] Kept, Tensor[] Tensors) Run(IExpertDispatcher dispatcher, int seed, long tokens, int experts, int k,
            long width, ExpertActivation activation, bool bias, long? capacity, DropPolicy policy)
        {
            manual_seed(seed);
            var bank = new ExpertBank(experts, (int)width, (int)width + 3, (int)width + 1, activation, bias);
            bank.to(ScalarType.Float64);
            var generator = new Generator((ulong)seed);
            var x = randn(new[] { tokens, width }, ScalarType.Float64, generator: generator).requires_grad_(true);
            var (routing, weights) = RandomRouting.Create(tokens, experts, k, generator);
            var upstream = randn(new[] { tokens, width + 1 }, ScalarType.Float64, generator: generator);

            var output = dispatcher.Dispatch(x, new RoutedTokens(routing, bank), new DispatchRules(capacity, policy, null));
            (output.Output * upstream).sum().backward();
            var tensors = new List<Tensor> { output.Output.detach(), x.grad!, weights.grad!, bank.InputWeight.grad!, bank.OutputWeight.grad! };
            if (bias) tensors.AddRange(bank.parameters().Where(p => p.dim() == 2).Select(p => p.grad!));
            return (output.KeptPerExpert, tensors.ToArray());
        }
    }
}
