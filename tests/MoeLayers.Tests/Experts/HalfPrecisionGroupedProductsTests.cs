using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// bfloat16 and float16 grouped products on the CPU: the padded batched product the grouped matmul now chooses
    /// (<see cref="GroupedProducts.PaddedBatch"/>) and the per-expert products it replaces, each against the exact product
    /// of the same half operands within <see cref="HalfPrecisionRounding.ProductBound"/> (forward, dX and dW, for every
    /// group layout); the chooser's choice between them, made without a warning; and the autograd projection on
    /// transposed (non-contiguous) operands.
    /// </summary>
    public class HalfPrecisionGroupedProductsTests
    {
        private const int D = 24, H = 40;

        public static TheoryData<string, long[]> Groups() => new()
        {
            { "uneven", new long[] { 5, 1, 9, 3 } },
            { "empty experts", new long[] { 0, 4, 0, 0, 7, 0 } },
            { "one expert", new long[] { 6 } },
            { "all empty", new long[] { 0, 0, 0 } },
            { "one row each", new long[] { 1, 1, 1, 1, 1 } },
            { "equal", new long[] { 4, 4, 4 } },
            { "long groups", new long[] { 300, 0, 170, 260 } },
        };

        public static TheoryData<string, long[], ScalarType, bool> Cases()
        {
            var data = new TheoryData<string, long[], ScalarType, bool>();
            foreach (var row in Groups())
            {
                foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
                {
                    foreach (var padded in new[] { true, false }) data.Add((string)row[0], (long[])row[1], dtype, padded);
                }
            }
            return data;
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void TheThreeProductsStayWithinTheRoundingBoundOfTheExactProduct(string name, long[] counts, ScalarType dtype, bool padded)
        {
            var products = padded ? GroupedProducts.PaddedBatch : GroupedProducts.PerExpert;
            var (x, w, dy) = Operands(counts, dtype, seed: 3);
            var (x64, w64, dy64) = (x.to(ScalarType.Float64), w.to(ScalarType.Float64), dy.to(ScalarType.Float64));
            var exact = GroupedProducts.PerExpert;
            var largest = counts.DefaultIfEmpty(0).Max();

            Within(products.Multiply(x, counts, w), exact.Multiply(x64, counts, w64), exact.Multiply(x64.abs(), counts, w64.abs()), D, dtype, $"{name}: Y = X·W");
            Within(products.MultiplyTransposed(dy, counts, w), exact.MultiplyTransposed(dy64, counts, w64), exact.MultiplyTransposed(dy64.abs(), counts, w64.abs()),
                H, dtype, $"{name}: dX = dY·Wᵀ");
            var gradWeights = products.WeightGradient(x, dy, counts);
            Within(gradWeights, exact.WeightGradient(x64, dy64, counts), exact.WeightGradient(x64.abs(), dy64.abs(), counts), largest, dtype, $"{name}: dW = Xᵀ·dY");
            for (var e = 0; e < counts.Length; e++)
            {
                if (counts[e] == 0) gradWeights[e].count_nonzero().item<long>().Should().Be(0, $"{name}: expert {e} has no rows, so its dW is zero");
            }
        }

        [Theory]
        [InlineData(ScalarType.BFloat16)]
        [InlineData(ScalarType.Float16)]
        public void TheProjectionWithAutogradOnTransposedOperandsStaysWithinTheBound(ScalarType dtype)
        {
            long[] counts = { 7, 0, 9, 8 };
            var m = counts.Sum();
            var generator = new Generator(11);
            // Rows and weights both stored transposed: the products see non-contiguous views.
            var rows = randn(new[] { (long)D, m }, generator: generator).to(dtype).t().requires_grad_(true);
            var weights = randn(new[] { counts.Length, (long)H, D }, generator: generator).to(dtype).transpose(1, 2).requires_grad_(true);
            rows.is_contiguous().Should().BeFalse();
            weights.is_contiguous().Should().BeFalse();
            var upstream = randn(new[] { m, (long)H }, generator: generator).to(dtype);
            using var events = new MoeLayersEventCapture();
            var matmul = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            matmul.Products(rows, counts, weights).PadsGroups.Should().BeTrue("bfloat16 and float16 run as the padded batch on the CPU");

            var output = matmul.Multiply(rows, counts, weights);
            output.backward(new[] { upstream });

            var exact = GroupedProducts.PerExpert;
            var (x64, w64, dy64) = (rows.detach().to(ScalarType.Float64), weights.detach().to(ScalarType.Float64), upstream.to(ScalarType.Float64));
            Within(output.detach(), exact.Multiply(x64, counts, w64), exact.Multiply(x64.abs(), counts, w64.abs()), D, dtype, "output");
            Within(rows.grad!, exact.MultiplyTransposed(dy64, counts, w64), exact.MultiplyTransposed(dy64.abs(), counts, w64.abs()), H, dtype, "dX");
            Within(weights.grad!, exact.WeightGradient(x64, dy64, counts), exact.WeightGradient(x64.abs(), dy64.abs(), counts), counts.Max(), dtype, "dW");
            events.From(MklGroupedGemm.Instance.Name).Should().BeEmpty("a measured choice is no fallback");
        }

        [Theory]
        [InlineData(ScalarType.BFloat16)]
        [InlineData(ScalarType.Float16)]
        public void TheChooserPadsWhileThePaddingPaysAndOtherwiseRunsPerExpertWithoutAWord(ScalarType dtype)
        {
            using var events = new MoeLayersEventCapture();
            var matmul = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            var weights = zeros(new long[] { 4, D, H }, dtype);
            // E·C = 4·8 = 32 ≤ 2·16 rows: padded; 4·10 = 40 > 2·13: per expert; no rows at all: per expert.
            foreach (var (counts, pads) in new[] { (new long[] { 8, 2, 3, 3 }, true), (new long[] { 10, 1, 1, 1 }, false), (new long[] { 0, 0, 0, 0 }, false) })
            {
                var rows = zeros(new[] { counts.Sum(), (long)D }, dtype);
                LibraryGroupedMatmul.PaddingPays(counts).Should().Be(pads);
                var products = matmul.Products(rows, counts, weights);
                products.PadsGroups.Should().Be(pads, $"counts {string.Join(",", counts)}");
                products.UsesLibrary.Should().BeFalse();
            }
            events.From(MklGroupedGemm.Instance.Name).Should().BeEmpty();
        }

        [Fact]
        public void TheSwitchVariableTurnsThePaddedBatchOffAndSaysSo()
        {
            using var events = new MoeLayersEventCapture();
            var matmul = new LibraryGroupedMatmul(MklGroupedGemm.Instance);
            long[] counts = { 3, 3, 2 };
            var rows = zeros(new[] { 8L, D }, ScalarType.BFloat16);
            var weights = zeros(new long[] { 3, D, H }, ScalarType.BFloat16);
            var switchVariable = MklGroupedGemm.Instance.SwitchVariable;
            var before = Environment.GetEnvironmentVariable(switchVariable);
            try
            {
                Environment.SetEnvironmentVariable(switchVariable, "0");
                var products = matmul.Products(rows, counts, weights);
                products.PadsGroups.Should().BeFalse();
                products.UsesLibrary.Should().BeFalse();
            }
            finally
            {
                Environment.SetEnvironmentVariable(switchVariable, before);
            }
            events.From(MklGroupedGemm.Instance.Name).Should().ContainSingle().Which["reason"].Should().Be("MOELAYERS_CPU_GROUPED_GEMM=0.");
        }

        [Fact]
        public void PaddingPutsEachGroupAtTheStartOfItsSlotAndUnpaddingUndoesIt()
        {
            long[] counts = { 2, 0, 3 };
            var rows = arange(10, ScalarType.Float64).view(5, 2).add(1);
            var padding = GroupPadding.Of(counts);
            padding.Capacity.Should().Be(3);
            var padded = padding.Pad(rows, zeroPadding: true);
            padded.shape.Should().Equal(3, 3, 2);
            TensorAssert.Values(padded).Should().Equal(1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8, 9, 10);
            TensorAssert.Values(padding.Unpad(padded)).Should().Equal(TensorAssert.Values(rows));
        }

        private static (Tensor X, Tensor W, Tensor DY) Operands(long[] counts, ScalarType dtype, int seed)
        {
            var generator = new Generator((ulong)seed);
            var m = counts.Sum();
            return (randn(new[] { m, (long)D }, generator: generator).to(dtype), randn(new[] { counts.Length, (long)D, H }, generator: generator).to(dtype),
                randn(new[] { m, (long)H }, generator: generator).to(dtype));
        }

        private static void Within(Tensor actual, Tensor exact, Tensor magnitude, long inner, ScalarType dtype, string because)
        {
            actual.dtype.Should().Be(dtype, because);
            actual.shape.Should().Equal(exact.shape, because);
            if (exact.numel() == 0) return;
            var bound = HalfPrecisionRounding.ProductBound(exact, magnitude, inner, dtype);
            var error = actual.to(ScalarType.Float64).sub(exact).abs();
            var worst = error.sub(bound).max().item<double>();
            worst.Should().BeLessThanOrEqualTo(0, $"{because}: every element within u·|C| + (1 + u)·γ_K·|A||B| + η/2 (worst error / bound {error.div(bound.clamp_min(1e-300)).max().item<double>():0.00})");
        }
    }
}
