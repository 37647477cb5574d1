using System;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.Tests
{
    public sealed class SingleProcessCommunicatorTests
    {
        [Theory]
        [InlineData(ScalarType.Float32)]
        [InlineData(ScalarType.Float64)]
        [InlineData(ScalarType.BFloat16)]
        [InlineData(ScalarType.Float16)]
        [InlineData(ScalarType.Int64)]
        public void AllToAllReturnsACopyOfTheRowsWithTheirCount(ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var send = arange(24, ScalarType.Float32).reshape(4, 3, 2).to_type(dtype);
            var result = comm.AllToAll(send, new long[] { 4 });
            result.ReceiveCounts.Should().Equal(4L);
            result.ReceiveOffsets.Should().Equal(0L);
            result.Rows.dtype.Should().Be(dtype);
            result.Rows.shape.Should().Equal(4L, 3L, 2L);
            result.Rows.to_type(ScalarType.Float64).data<double>().ToArray().Should().Equal(Enumerable.Range(0, 24).Select(i => (double)i));
            send.add_(1);
            result.Rows.to_type(ScalarType.Float64).data<double>()[0].Should().Be(0, "the result is a copy, not a view of the input");
        }

        [Fact]
        public void AllToAllOfANonContiguousTensorThatRequiresGradGivesPlainContiguousRows()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var source = arange(6, ScalarType.Float32).reshape(2, 3).requires_grad_(true);
            var send = source.t();
            send.is_contiguous().Should().BeFalse();
            var result = comm.AllToAll(send, new long[] { 3 });
            result.Rows.is_contiguous().Should().BeTrue();
            result.Rows.requires_grad.Should().BeFalse();
            result.Rows.data<float>().ToArray().Should().Equal(0f, 3f, 1f, 4f, 2f, 5f);
        }

        [Fact]
        public void AllToAllOfNoRowsGivesAnEmptyTensorOfTheSameRowShape()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var result = comm.AllToAll(zeros(0, 7), new long[] { 0 });
            result.Rows.shape.Should().Equal(0L, 7L);
            result.ReceiveCounts.Should().Equal(0L);
        }

        [Theory]
        [InlineData(new long[] { 3 }, "sendCounts sum to 3 but send has 4 rows")]
        [InlineData(new long[] { 2, 2 }, "sendCounts must have one entry per rank (world size 1); got 2")]
        [InlineData(new long[] { -1 }, "sendCounts[0] must be ≥ 0; got -1")]
        public void AllToAllRejectsCountsThatDoNotFitTheRows(long[] counts, string message)
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var act = () => comm.AllToAll(zeros(4, 2), counts);
            act.Should().Throw<ArgumentException>().WithMessage("*" + message + "*");
        }

        [Fact]
        public void AllToAllRejectsAScalar()
        {
            using var comm = new SingleProcessCommunicator();
            using var scalar = tensor(1f);
            var act = () => comm.AllToAll(scalar, new long[] { 1 });
            act.Should().Throw<ArgumentException>().WithMessage("*at least one dimension*");
        }

        [Theory]
        [InlineData(ReduceOp.Sum)]
        [InlineData(ReduceOp.Max)]
        [InlineData(ReduceOp.Min)]
        public void AllReduceOfOneRankIsANewTensorWithTheSameValues(ReduceOp op)
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var x = tensor(new[] { 1.5f, -2f, 3f });
            var y = comm.AllReduce(x, op);
            y.data<float>().ToArray().Should().Equal(1.5f, -2f, 3f);
            y.add_(1);
            x.data<float>().ToArray().Should().Equal(1.5f, -2f, 3f);
            comm.AllReduceInPlace(x, op);
            x.data<float>().ToArray().Should().Equal(1.5f, -2f, 3f);
        }

        [Fact]
        public void AllReduceRejectsDtypesWithoutAReduction()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var act = () => comm.AllReduce(tensor(new[] { true, false }));
            act.Should().Throw<ArgumentException>().WithMessage("*dtype bool is not supported*");
        }

        [Fact]
        public void AllGatherBarrierAndChecksWorkOnOneRank()
        {
            using var comm = new SingleProcessCommunicator();
            comm.Rank.Should().Be(0);
            comm.WorldSize.Should().Be(1);
            comm.AllGatherBytes(new byte[] { 1, 2, 3 }).Should().ContainSingle().Which.Should().Equal(1, 2, 3);
            comm.AllGather(42).Should().Equal(42L);
            comm.Barrier();
            comm.CheckSameOnAllRanks("options", "E=8");
            comm.CheckSameOnAllRanks("bytes", new byte[] { 9 });
        }

        [Fact]
        public void StatisticsCountCallsAndBytes()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            comm.AllToAll(zeros(5, 4), new long[] { 5 });
            comm.AllReduce(zeros(3, ScalarType.Float64));
            comm.Statistics.AllToAllCalls.Should().Be(1);
            comm.Statistics.AllToAllBytesSent.Should().Be(5 * 4 * 4);
            comm.Statistics.AllToAllBytesReceived.Should().Be(5 * 4 * 4);
            comm.Statistics.AllReduceCalls.Should().Be(1);
            comm.Statistics.AllReduceBytes.Should().Be(24);
            comm.Statistics.ToString().Should().Contain("all-to-all: 1 calls");
            comm.Statistics.Reset();
            comm.Statistics.AllToAllCalls.Should().Be(0);
            comm.Statistics.AllToAllBytesSent.Should().Be(0);
        }

        [Fact]
        public void ADisposedCommunicatorRefusesWork()
        {
            var comm = new SingleProcessCommunicator();
            comm.Dispose();
            var act = () => comm.Barrier();
            act.Should().Throw<ObjectDisposedException>();
        }
    }
}
