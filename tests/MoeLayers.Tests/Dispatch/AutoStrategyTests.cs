using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Dispatch
{
    /// <summary>What Auto dispatch picks for evenly loaded experts, with and without the CPU grouped GEMM.</summary>
    public class AutoStrategyTests
    {
        [Fact]
        public void AutoTakesTheGroupedProductsWhereMklBatchesThemAndThePaddedBufferWhereItDoesNot()
        {
            // 8 tokens, k = 2, four experts with exactly four rows each: no padding at all.
            var indices = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3 }, new long[] { 8, 2 });
            var plan = DispatchPlan.Build(indices, ones(8, 2), 4, new DispatchRules(null, DropPolicy.ByPosition, null));
            var rows = ones(8, 3);

            var perExpert = new SortedDispatcher(DispatchStrategy.Auto, LibraryGroupedMatmul.PerExpert);
            perExpert.UsePadded(plan, rows).Should().BeTrue("balanced blocks run as one batched product over the padded buffer");

            var mkl = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            var withMkl = new SortedDispatcher(DispatchStrategy.Auto, mkl);
            withMkl.UsePadded(plan, rows).Should().Be(!MklGroupedGemm.Available, "MKL's batched GEMM beats the padded buffer");
            withMkl.UsePadded(plan, rows.to(ScalarType.BFloat16)).Should().BeTrue("MKL's batch takes no bfloat16");

            new SortedDispatcher(DispatchStrategy.Padded, mkl).UsePadded(plan, rows).Should().BeTrue("a forced strategy is kept");
        }
    }
}
