using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// The memory-optimized expert MLP (one autograd function that recomputes the activation in backward) against the
    /// same experts composed of TorchSharp autograd ops, in outputs and in every gradient, float64.
    /// </summary>
    public class ExpertMlpFunctionTests
    {
        public static TheoryData<ExpertActivation, bool, string, long[]> Cases()
        {
            var data = new TheoryData<ExpertActivation, bool, string, long[]>();
            var groups = new (string Name, long[] Counts)[]
            {
                ("uneven", new long[] { 5, 1, 9, 3 }),
                ("empty experts", new long[] { 0, 4, 0, 7 }),
                ("equal", new long[] { 3, 3, 3, 3 }),
                ("no rows", new long[] { 0, 0, 0, 0 }),
            };
            foreach (var activation in Enum.GetValues<ExpertActivation>())
            {
                foreach (var bias in new[] { false, true })
                {
                    foreach (var (name, counts) in groups) data.Add(activation, bias, name, counts);
                }
            }
            return data;
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void PerExpertProductsMatchTheComposedExperts(ExpertActivation activation, bool bias, string groups, long[] counts) =>
            Compare(activation, bias, counts, LibraryGroupedMatmul.PerExpert, groups);

        [Theory]
        [MemberData(nameof(Cases))]
        public void MklBatchedProductsMatchTheComposedExperts(ExpertActivation activation, bool bias, string groups, long[] counts) =>
            Compare(activation, bias, counts, new LibraryGroupedMatmul(MklGroupedGemm.Instance), groups);

        [Fact]
        public void ActivationDerivativesSpanningSeveralRowChunksMatch()
        {
            // 1100 rows × 2048 = 2.25M elements: two chunks of the elementwise backward.
            const int width = 2048;
            var counts = new long[] { 600, 0, 500 };
            (counts.Sum() * width).Should().BeGreaterThan(ExpertMlpFunction.ChunkElements);
            foreach (var activation in Enum.GetValues<ExpertActivation>())
                Compare(activation, bias: true, counts, LibraryGroupedMatmul.PerExpert, "two chunks", inputDim: 3, hiddenDim: width);
        }

        [Fact]
        public void RowsThatNeedNoGradientStillGiveWeightGradients()
        {
            var (fused, composed) = Banks(ExpertActivation.SwiGlu, bias: true, 3, 4, 6, 5);
            var counts = new long[] { 2, 0, 3 };
            var generator = new Generator(3);
            var rows = randn(new long[] { 5, 4 }, ScalarType.Float64, generator: generator);
            var upstream = randn(new long[] { 5, 5 }, ScalarType.Float64, generator: generator);
            var assignments = zeros(5, ScalarType.Int64);
            (Sorted(fused, rows, counts, assignments, LibraryGroupedMatmul.PerExpert) * upstream).sum().backward();
            (Sorted(composed, rows, counts, assignments, LibraryGroupedMatmul.PerExpert) * upstream).sum().backward();
            foreach (var (a, b) in fused.parameters().Zip(composed.parameters())) TensorAssert.Close(a.grad!, b.grad!, 1e-10);
        }

        [Theory]
        [InlineData(DispatchStrategy.Grouped)]
        [InlineData(DispatchStrategy.Padded)]
        public void TheAutonomyOfExpertsContinuationMatchesTheComposedOne(DispatchStrategy strategy)
        {
            const int experts = 4, d = 6, h = 7, output = 5, rank = 3, tokens = 19, k = 2;
            manual_seed(50);
            var fused = new LowRankExpertBank(experts, d, h, output, rank);
            var composed = new LowRankExpertBank(experts, d, h, output, rank, memoryOptimized: false);
            fused.to(ScalarType.Float64);
            composed.to(ScalarType.Float64);
            composed.load_state_dict(fused.state_dict());
            var generator = new Generator(51);
            var (routing, _) = RandomRouting.Create(tokens, experts, k, generator);
            var x = randn(new long[] { tokens, d }, ScalarType.Float64, generator: generator);
            var upstream = randn(new long[] { tokens, output }, ScalarType.Float64, generator: generator);
            var dispatcher = new SortedDispatcher(strategy);

            Tensor Run(LowRankExpertBank bank, Tensor input)
            {
                var activations = SelectedActivations.Select(bank.Down(input), routing.ExpertIndices, experts);
                using var continuation = bank.Continue(activations);
                return dispatcher.Dispatch(input, new RoutedTokens(routing, continuation), new DispatchRules(null, DropPolicy.ByPosition, null)).Output;
            }

            var (xFused, xComposed) = (x.clone().requires_grad_(true), x.clone().requires_grad_(true));
            var yFused = Run(fused, xFused);
            var yComposed = Run(composed, xComposed);
            (yFused * upstream).sum().backward();
            (yComposed * upstream).sum().backward();

            TensorAssert.Close(yFused, yComposed, 1e-12, "output");
            TensorAssert.Close(xFused.grad!, xComposed.grad!, 1e-12, "input gradient");
            foreach (var ((name, a), (_, b)) in fused.named_parameters().Zip(composed.named_parameters()))
                TensorAssert.Close(a.grad!, b.grad!, 1e-12, name);
        }

        [Fact]
        public void TheOptionReachesTheExpertBanks()
        {
            new MoeLayerOptions().MemoryOptimizedExperts.Should().BeTrue();
            var options = new MoeLayerOptions { InputDim = 4, HiddenDim = 6, NumExperts = 2, TopK = 1, RenormalizeWeights = false };
            using (var layer = new MoeLayer(options)) layer.Experts.MemoryOptimized.Should().BeTrue();
            options.MemoryOptimizedExperts = false;
            using (var layer = new MoeLayer(options)) layer.Experts.MemoryOptimized.Should().BeFalse();
            var aoe = new MoeLayerOptions
            {
                Router = RouterKind.AutonomyOfExperts, InputDim = 4, HiddenDim = 6, NumExperts = 2, TopK = 1, LowRank = 2, Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0,
                MemoryOptimizedExperts = false,
            };
            using (var layer = new MoeLayer(aoe)) layer.LowRankExperts.MemoryOptimized.Should().BeFalse();
        }

        [Fact]
        public void SwiGluWithoutGateWeightsIsRefusedNamingTheArgument()
        {
            var rows = ones(2, 3, ScalarType.Float64);
            var weights = ones(1, 3, 4, ScalarType.Float64);
            var mlp = new ExpertMlp(weights, null, ones(1, 4, 3, ScalarType.Float64), null, null, null, ExpertActivation.SwiGlu, MemoryOptimized: true);
            var act = () => ExpertMlpFunction.Apply(rows, null, mlp, new long[] { 2 }, GroupedProducts.PerExpert);
            act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "gateWeight" && e.Message.Contains("needs gate weights"));
        }

        private static void Compare(ExpertActivation activation, bool bias, long[] counts, IGroupedMatmul matmul, string because,
            int inputDim = 6, int hiddenDim = 8)
        {
            const int output = 5;
            var (fused, composed) = Banks(activation, bias, counts.Length, inputDim, hiddenDim, output);
            var generator = new Generator(21);
            var m = counts.Sum();
            var rows = randn(new[] { m, inputDim }, ScalarType.Float64, generator: generator);
            var upstream = randn(new[] { m, (long)output }, ScalarType.Float64, generator: generator);
            var assignments = zeros(m, ScalarType.Int64);

            var (rowsFused, rowsComposed) = (rows.clone().requires_grad_(true), rows.clone().requires_grad_(true));
            var yFused = Sorted(fused, rowsFused, counts, assignments, matmul);
            var yComposed = Sorted(composed, rowsComposed, counts, assignments, LibraryGroupedMatmul.PerExpert);
            (yFused * upstream).sum().backward();
            (yComposed * upstream).sum().backward();

            if (m > 0)
            {
                TensorAssert.Close(yFused, yComposed, 1e-10, $"{because}: output");
                TensorAssert.Close(rowsFused.grad!, rowsComposed.grad!, 1e-10, $"{because}: row gradient");
            }
            else
            {
                yFused.shape.Should().Equal(new long[] { 0, output }, because);
            }
            foreach (var ((name, a), (_, b)) in fused.named_parameters().Zip(composed.named_parameters()))
            {
                if (b.grad is null)
                {
                    // With no rows the composed ops never touch the weights; the fused function reports zeros.
                    if (a.grad is not null) TensorAssert.Close(a.grad, zeros_like(a), 0, $"{because}: {name}");
                    continue;
                }
                TensorAssert.Close(a.grad!, b.grad, 1e-10, $"{because}: {name} gradient");
            }
        }

        private static (ExpertBank Fused, ExpertBank Composed) Banks(ExpertActivation activation, bool bias, int experts, int d, int h, int output)
        {
            manual_seed(20);
            var fused = new ExpertBank(experts, d, h, output, activation, bias);
            var composed = new ExpertBank(experts, d, h, output, activation, bias, memoryOptimized: false);
            fused.to(ScalarType.Float64);
            composed.to(ScalarType.Float64);
            composed.load_state_dict(fused.state_dict());
            return (fused, composed);
        }

        private static Tensor Sorted(ExpertBank bank, Tensor rows, long[] counts, Tensor assignments, IGroupedMatmul matmul) =>
            bank.ForwardSorted(rows, counts, assignments, matmul);
    }
}
