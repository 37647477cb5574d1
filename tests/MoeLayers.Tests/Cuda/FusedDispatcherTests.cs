using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// The whole fused dispatch (kernels, autograd functions, grouped expert products) on the CPU accelerator against
    /// the core's reference loop run in float64: outputs, counts and every gradient.
    /// </summary>
    [Collection(CpuKernelsCollection.Name)]
    public class FusedDispatcherTests
    {
        private readonly FusedKernels _kernels;

        public FusedDispatcherTests(CpuKernelsFixture fixture)
        {
            _kernels = fixture.Kernels;
        }

        public static TheoryData<int, long, int, int, ExpertActivation, bool, double?, DropPolicy> Configurations() => new()
        {
            { 1, 60, 4, 2, ExpertActivation.Gelu, false, null, DropPolicy.ByPosition },
            { 2, 75, 6, 2, ExpertActivation.SwiGlu, true, 0.8, DropPolicy.ByPosition },
            { 3, 50, 5, 1, ExpertActivation.Relu, false, 0.6, DropPolicy.ByPosition },
            { 4, 64, 4, 3, ExpertActivation.Gelu, true, 0.7, DropPolicy.ByWeight },
            { 5, 9, 1, 1, ExpertActivation.SwiGlu, false, null, DropPolicy.ByPosition },
        };

        [Theory]
        [MemberData(nameof(Configurations))]
        public void MatchesReferenceDispatchInOutputsCountsAndGradients(int seed, long tokens, int experts, int k,
            ExpertActivation activation, bool bias, double? factor, DropPolicy policy)
        {
            var capacity = Capacity.Compute(factor, tokens, k, experts, 1);
            var reference = Run(new ReferenceDispatcher(), ScalarType.Float64, seed, tokens, experts, k, activation, bias, capacity, policy);
            foreach (var strategy in new[] { DispatchStrategy.Grouped, DispatchStrategy.Padded })
            {
                var fused = Run(new FusedDispatcher(_kernels, strategy), ScalarType.Float32, seed, tokens, experts, k, activation, bias, capacity, policy);
                fused.Assigned.Should().Equal(reference.Assigned, strategy.ToString());
                fused.Kept.Should().Equal(reference.Kept, strategy.ToString());
                string[] names = { "output", "dx", "dweights", "dw_in", "dw_out" };
                for (var i = 0; i < names.Length; i++) TensorAssert.Close(fused.Tensors[i], reference.Tensors[i], 2e-4, $"{strategy} {names[i]}");
            }
        }

        [Theory]
        [MemberData(nameof(Configurations))]
        public void TheGroupedGemmPathMatchesTheReferenceToo(int seed, long tokens, int experts, int k,
            ExpertActivation activation, bool bias, double? factor, DropPolicy policy)
        {
            var capacity = Capacity.Compute(factor, tokens, k, experts, 1);
            var reference = Run(new ReferenceDispatcher(), ScalarType.Float64, seed, tokens, experts, k, activation, bias, capacity, policy);
            var gemm = new EmulatedGroupedGemm();
            using var events = new MoeLayersEventCapture();
            var dispatcher = new FusedDispatcher(_kernels, DispatchStrategy.Grouped, new LibraryGroupedMatmul(gemm));
            var fused = Run(dispatcher, ScalarType.Float32, seed, tokens, experts, k, activation, bias, capacity, policy);
            gemm.Runs.Should().Be(activation == ExpertActivation.SwiGlu ? 9 : 6, "each projection is one call forward and two backward");
            events.From(gemm.Name).Should().BeEmpty();
            fused.Kept.Should().Equal(reference.Kept);
            string[] names = { "output", "dx", "dweights", "dw_in", "dw_out" };
            for (var i = 0; i < names.Length; i++) TensorAssert.Close(fused.Tensors[i], reference.Tensors[i], 2e-4, names[i]);
        }

        [Fact]
        public void BothBanksRunTheirProjectionsThroughTheMatmulTheyAreHanded()
        {
            long[] counts = { 4, 0, 3 };
            var generator = new Generator(8);
            var rows = randn(new[] { 7L, 8 }, ScalarType.Float64, generator: generator);
            var tokens = tensor(new long[] { 0, 1, 2, 3, 1, 2, 4 });
            var expertOfRow = tensor(new long[] { 0, 0, 0, 0, 2, 2, 2 });
            var assignments = tokens * 3 + expertOfRow;
            var gemm = new EmulatedGroupedGemm();
            var grouped = new LibraryGroupedMatmul(gemm);

            var bank = new ExpertBank(3, 8, 6, 5, ExpertActivation.SwiGlu, bias: true);
            bank.to(ScalarType.Float64);
            IExpertBank blocks = bank;
            TensorAssert.Close(blocks.ForwardSorted(rows, counts, assignments, grouped), blocks.ForwardSorted(rows, counts, assignments, LibraryGroupedMatmul.PerExpert), 1e-12);
            gemm.Runs.Should().Be(3);

            var lowRank = new LowRankExpertBank(3, 8, 6, 5, lowRank: 2);
            lowRank.to(ScalarType.Float64);
            var indices = tensor(new long[] { 0, 2, 0, 2, 0, 2, 0, 1, 2, 1 }).view(5, 2);
            using var continuation = lowRank.Continue(SelectedActivations.Select(lowRank.Down(randn(new[] { 5L, 8 }, ScalarType.Float64, generator: generator)), indices, 3));
            TensorAssert.Close(continuation.ForwardSorted(rows, counts, assignments, grouped), continuation.ForwardSorted(rows, counts, assignments, LibraryGroupedMatmul.PerExpert), 1e-12);
            gemm.Runs.Should().Be(6);
        }

        [Fact]
        public void RunsAreBitwiseReproducible()
        {
            var first = Run(new FusedDispatcher(_kernels), ScalarType.Float32, 11, 80, 4, 2, ExpertActivation.Gelu, false, null, DropPolicy.ByPosition);
            var second = Run(new FusedDispatcher(_kernels), ScalarType.Float32, 11, 80, 4, 2, ExpertActivation.Gelu, false, null, DropPolicy.ByPosition);
            for (var i = 0; i < first.Tensors.Length; i++)
                TensorAssert.Values(first.Tensors[i]).Should().Equal(TensorAssert.Values(second.Tensors[i]), $"tensor #{i}");
        }

        [Fact]
        public void AnEmptyBatchGivesAnEmptyOutput()
        {
            var result = Run(new FusedDispatcher(_kernels), ScalarType.Float32, 1, 0, 4, 2, ExpertActivation.Gelu, false, null, DropPolicy.ByPosition);
            result.Tensors[0].shape.Should().Equal(0, 10);
            result.Kept.Should().Equal(0, 0, 0, 0);
        }

        [Theory]
        [InlineData(ScalarType.BFloat16, 0.05)]
        [InlineData(ScalarType.Float16, 0.01)]
        public void HalfPrecisionRowsStayWithinTheirRounding(ScalarType dtype, double tolerance)
        {
            var fused = Run(new FusedDispatcher(_kernels), dtype, 21, 40, 4, 2, ExpertActivation.Gelu, false, null, DropPolicy.ByPosition);
            var reference = Run(new ReferenceDispatcher(), ScalarType.Float64, 21, 40, 4, 2, ExpertActivation.Gelu, false, null, DropPolicy.ByPosition);
            TensorAssert.Close(fused.Tensors[0], reference.Tensors[0], tolerance, "output");
            TensorAssert.Close(fused.Tensors[1], reference.Tensors[1], tolerance, "dx");
        }

        private static (long[] Assigned, long[] Kept, Tensor[] Tensors) Run(IExpertDispatcher dispatcher, ScalarType dtype, int seed,
            long tokens, int experts, int k, ExpertActivation activation, bool bias, long? capacity, DropPolicy policy)
        {
            const long width = 12;
            manual_seed(seed);
            var bank = new ExpertBank(experts, (int)width, 16, (int)width - 2, activation, bias);
            bank.to(dtype);
            var generator = new Generator((ulong)seed);
            var x = randn(new[] { tokens, width }, ScalarType.Float64, generator: generator).to(dtype).requires_grad_(true);
            // Skewed scores so that capacity drops pairs; distinct experts per token as routers produce.
            var scores = rand(new[] { tokens, (long)experts }, ScalarType.Float64, generator: generator) * arange(1, experts + 1, ScalarType.Float64);
            var indices = scores.topk(k, 1).indexes;
            var weights = (rand(new[] { tokens, (long)k }, ScalarType.Float64, generator: generator) + 0.1)
                .to(dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32).requires_grad_(true);
            var logits = zeros(tokens, experts);
            var routing = new RoutingResult(indices, weights, logits, logits.softmax(1));
            var upstream = randn(new[] { tokens, width - 2 }, ScalarType.Float64, generator: generator);

            var result = dispatcher.Dispatch(x, new RoutedTokens(routing, bank), new DispatchRules(capacity, policy, null));
            (result.Output.to(ScalarType.Float64) * upstream).sum().backward();
            var tensors = new[] { result.Output, x.grad!, weights.grad!, bank.InputWeight.grad!, bank.OutputWeight.grad! }
                .Select(t => t.detach().to(ScalarType.Float64)).ToArray();
            return (result.AssignedPerExpert, result.KeptPerExpert, tensors);
        }
    }
}
