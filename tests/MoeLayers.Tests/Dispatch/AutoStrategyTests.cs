using System.Linq;
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

        [Fact]
        public void AutoGathersIntoThePaddedBufferWhereTheCpuGroupedMatmulWouldPadTheGroupsItself()
        {
            // Two experts with 1200 and 800 rows: above the shape rule's 1024 rows per expert, padding 2400 ≤ 2·2000 rows.
            var plan = PlanFor(1200, 800);
            var rows = ones(plan.Tokens, 3, dtype: ScalarType.BFloat16);
            var mkl = new SortedDispatcher(DispatchStrategy.Auto, new LibraryGroupedMatmul(MklGroupedGemm.Instance));
            mkl.UsePadded(plan, rows).Should().BeTrue("bfloat16 groups would be padded by the grouped matmul anyway");
            mkl.UsePadded(plan, rows.to(ScalarType.Float32)).Should().Be(!MklGroupedGemm.Available, "float32 keeps MKL's batch");
            new SortedDispatcher(DispatchStrategy.Auto, LibraryGroupedMatmul.PerExpert).UsePadded(plan, rows)
                .Should().BeFalse("without a runner the shape rule decides, and 1000 rows per expert with 20% padding is beyond it");
            new SortedDispatcher(DispatchStrategy.Grouped, new LibraryGroupedMatmul(MklGroupedGemm.Instance)).UsePadded(plan, rows)
                .Should().BeFalse("a forced strategy is kept");

            // 2000, 100 and 100 rows: padding 6000 > 2·2200 rows, so neither the matmul nor the dispatch pads.
            var skewed = PlanFor(2000, 100, 100);
            mkl.UsePadded(skewed, ones(skewed.Tokens, 3, dtype: ScalarType.BFloat16)).Should().BeFalse();
        }

        /// <summary>A plan with k = 1 where expert e receives counts[e] tokens.</summary>
        private static DispatchPlan PlanFor(params long[] counts)
        {
            var experts = new long[counts.Sum()];
            var at = 0;
            for (var e = 0; e < counts.Length; e++)
            {
                for (var i = 0; i < counts[e]; i++) experts[at++] = e;
            }
            return DispatchPlan.Build(tensor(experts, new long[] { experts.Length, 1 }), ones(experts.Length, 1), counts.Length,
                new DispatchRules(null, DropPolicy.ByPosition, null));
        }
    }
}
