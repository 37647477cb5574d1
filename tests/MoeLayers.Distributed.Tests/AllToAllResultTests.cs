using System;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.Tests
{
    public sealed class AllToAllResultTests
    {
        [Fact]
        public void RowsFromSliceTheBlockOfEachSource()
        {
            using var scope = NewDisposeScope();
            var result = new AllToAllResult(arange(6, ScalarType.Float32).reshape(6, 1), new long[] { 2, 0, 4 });
            result.ReceiveOffsets.Should().Equal(0L, 2L, 2L);
            result.RowsFrom(0).flatten().data<float>().ToArray().Should().Equal(0f, 1f);
            result.RowsFrom(1).shape.Should().Equal(0L, 1L);
            result.RowsFrom(2).flatten().data<float>().ToArray().Should().Equal(2f, 3f, 4f, 5f);
            var act = () => result.RowsFrom(3);
            act.Should().Throw<ArgumentOutOfRangeException>();
        }

        [Fact]
        public void CountsMustMatchTheRows()
        {
            using var scope = NewDisposeScope();
            var act = () => new AllToAllResult(zeros(3, 2), new long[] { 1, 1 });
            act.Should().Throw<ArgumentException>().WithMessage("Receive counts sum to 2 but the rows tensor has 3 rows.*");
        }
    }
}
