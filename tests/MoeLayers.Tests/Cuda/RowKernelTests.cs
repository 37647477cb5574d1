using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// The row movers in 16-byte packets against the same kernels moving one element per access and against TorchSharp:
    /// gather, weighted combine, scaled scatter and the per-pair dot, several rows per block, every row dtype.
    /// </summary>
    [Collection(CpuKernelsCollection.Name)]
    public class RowKernelTests
    {
        private readonly FusedKernels _packed;
        private readonly FusedKernels _single;

        public RowKernelTests(CpuKernelsFixture fixture)
        {
            _packed = fixture.WideKernels;
            _single = fixture.SingleElementKernels;
        }

        [Theory]
        [InlineData(ScalarType.Float32, 24, true)] // 6 packets of 4
        [InlineData(ScalarType.Float32, 10, false)] // 40 bytes: no whole packet
        [InlineData(ScalarType.BFloat16, 32, true)] // 4 packets of 8
        [InlineData(ScalarType.BFloat16, 12, false)]
        [InlineData(ScalarType.Float16, 16, true)]
        public void PacketsGiveTheSingleElementResultsAndTorchSharpsValues(ScalarType dtype, long width, bool packs)
        {
            const long tokens = 37;
            const int k = 3;
            var generator = new Generator(5);
            var source = randn(new[] { tokens, width }, generator: generator).to(dtype);
            // Every pair kept except two dropped ones (their rows stay unused: pair −1); rows in a scrambled order.
            var pairs = tokens * k;
            var order = randperm(pairs, generator: generator).data<long>().ToArray();
            var rowOfPairValues = order.Select(r => (int)r).ToArray();
            rowOfPairValues[4] = -1;
            rowOfPairValues[50] = -1;
            var pairOfRowValues = Enumerable.Repeat(-1, (int)pairs).ToArray();
            for (var p = 0; p < pairs; p++)
            {
                if (rowOfPairValues[p] >= 0) pairOfRowValues[rowOfPairValues[p]] = p;
            }
            var rowOfPair = tensor(rowOfPairValues);
            var pairOfRow = tensor(pairOfRowValues);
            var kept = rowOfPair.ge(0);
            var rowsCount = pairs;
            var weights = rand(new[] { tokens, (long)k }, generator: generator);

            _packed.RowSet(dtype, width, source).IsPacked.Should().Be(packs);
            _single.RowSet(dtype, width, source).IsPacked.Should().BeFalse();

            var gathered = _packed.GatherRows(source, pairOfRow, k);
            TensorAssert.Values(gathered).Should().Equal(TensorAssert.Values(_single.GatherRows(source, pairOfRow, k)));
            var tokenOfRow = (pairOfRow.clamp_min(0) / k).to(ScalarType.Int64);
            var expectedRows = source.index_select(0, tokenOfRow) * pairOfRow.ge(0).unsqueeze(1).to(dtype);
            TensorAssert.Values(gathered).Should().Equal(TensorAssert.Values(expectedRows), "a gather is a copy; missing pairs give zero rows");

            var outputs = randn(new[] { rowsCount, width }, generator: generator).to(dtype);
            var combined = _packed.CombineRows(outputs, weights, rowOfPair, tokens, k);
            TensorAssert.Values(combined).Should().Equal(TensorAssert.Values(_single.CombineRows(outputs, weights, rowOfPair, tokens, k)),
                "a packet's elements are summed exactly as single elements");
            var perPair = outputs.to(ScalarType.Float32).index_select(0, rowOfPair.clamp_min(0).to(ScalarType.Int64)) * kept.unsqueeze(1);
            var expected = (perPair.view(tokens, k, width) * weights.unsqueeze(-1)).sum(1);
            TensorAssert.Close(combined, expected, Tolerance(dtype));

            var gradOutput = randn(new[] { tokens, width }, generator: generator).to(dtype);
            var scattered = _packed.ScatterScaledRows(gradOutput, weights, pairOfRow, k);
            TensorAssert.Values(scattered).Should().Equal(TensorAssert.Values(_single.ScatterScaledRows(gradOutput, weights, pairOfRow, k)));

            var dots = _packed.PairDot(gradOutput, outputs, rowOfPair, k);
            var expectedDots = (gradOutput.to(ScalarType.Float32).repeat_interleave(k, 0) * perPair).sum(1);
            TensorAssert.Close(dots, expectedDots, Tolerance(dtype) * width);
            TensorAssert.Close(dots, _single.PairDot(gradOutput, outputs, rowOfPair, k), 1e-4, "only the summation order differs");
            TensorAssert.Values(dots)[4].Should().Be(0, "a dropped pair gets no weight gradient");
        }

        [Fact]
        public void AViewThatStartsOffSixteenBytesMovesOneElementAtATime()
        {
            var storage = randn(5 * 16 + 1);
            var shifted = storage.narrow(0, 1, 5 * 16).view(5, 16); // contiguous, 4 bytes past an aligned start
            _packed.RowSet(ScalarType.Float32, 16, shifted).IsPacked.Should().BeFalse();
            var pairOfRow = tensor(new[] { 4, 0, 2 });
            var gathered = _packed.GatherRows(shifted, pairOfRow, 1);
            TensorAssert.Values(gathered).Should().Equal(TensorAssert.Values(shifted.index_select(0, tensor(new long[] { 4, 0, 2 }))));
        }

        [Fact]
        public void SumsAreBitwiseReproducible()
        {
            var generator = new Generator(3);
            var rows = randn(new[] { 64L, 32 }, generator: generator).to(ScalarType.BFloat16);
            var rowOfPair = randperm(64, generator: generator).to(ScalarType.Int32);
            var weights = rand(new[] { 32L, 2 }, generator: generator);
            var first = _packed.CombineRows(rows, weights, rowOfPair, 32, 2);
            var second = _packed.CombineRows(rows, weights, rowOfPair, 32, 2);
            TensorAssert.Values(first).Should().Equal(TensorAssert.Values(second));
            TensorAssert.Values(_packed.PairDot(first, rows, rowOfPair, 2)).Should().Equal(TensorAssert.Values(_packed.PairDot(second, rows, rowOfPair, 2)));
        }

        private static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float32 ? 1e-5 : dtype == ScalarType.BFloat16 ? 3e-2 : 4e-3;
    }
}
