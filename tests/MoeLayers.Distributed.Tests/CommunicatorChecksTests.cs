using System;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>The checks over a scripted world: this process plays one rank, the others' contributions are given.</summary>
    public sealed class CommunicatorChecksTests
    {
        [Fact]
        public void DifferingOptionsNameTheOddRankAndBothValues()
        {
            var values = new[] { "E=8,k=2", "E=8,k=2", "E=8,k=1", "E=8,k=2" };
            var world = new ScriptedWorld(rank: 0, values.Length, r => Encoding.UTF8.GetBytes(values[r]));
            var act = () => world.CheckSameOnAllRanks("MoE layer options", values[0]);
            var e = act.Should().Throw<CommunicatorMismatchException>().Which;
            e.Message.Should().Be("CheckSameOnAllRanks(MoE layer options): the ranks' arguments do not agree: ranks 0, 1, 3: \"E=8,k=2\"; rank 2: \"E=8,k=1\". " +
                                  "Every rank must use the same MoE layer options.");
            e.DifferingRanks.Should().Equal(2);
            e.Operation.Should().Be("CheckSameOnAllRanks(MoE layer options)");
        }

        [Fact]
        public void EqualOptionsPass()
        {
            var world = new ScriptedWorld(rank: 1, 3, _ => Encoding.UTF8.GetBytes("same"));
            world.CheckSameOnAllRanks("options", "same");
        }

        [Fact]
        public void DifferingBytesAreComparedByHash()
        {
            var values = new[] { new byte[] { 1 }, new byte[] { 2 } };
            var world = new ScriptedWorld(rank: 1, 2, r => SHA256.HashData(values[r]));
            var act = () => world.CheckSameOnAllRanks("expert layout", values[1]);
            var e = act.Should().Throw<CommunicatorMismatchException>().Which;
            var hash0 = Convert.ToHexString(SHA256.HashData(values[0]), 0, 8).ToLowerInvariant();
            e.Message.Should().Contain($"rank 0: SHA-256 {hash0}…").And.Contain("rank 1: SHA-256 ");
            // Two groups of one: the group holding the lowest rank counts as the reference.
            e.DifferingRanks.Should().Equal(1);
        }

        [Fact]
        public void AllGatherOfLongsUsesEveryRanksValue()
        {
            var world = new ScriptedWorld(rank: 2, 3, r => BitConverter.GetBytes(r * 10L));
            world.AllGather(20).Should().Equal(0L, 10L, 20L);
        }

        /// <summary>A world where only AllGatherBytes works: this rank's bytes, and the other ranks' from a script.</summary>
        private sealed class ScriptedWorld : ICommunicator
        {
            private readonly Func<int, byte[]> _others;

            public ScriptedWorld(int rank, int worldSize, Func<int, byte[]> others)
            {
                Rank = rank;
                WorldSize = worldSize;
                _others = others;
            }

            public int Rank { get; }
            public int WorldSize { get; }
            public CommunicationStatistics Statistics { get; } = new();

            public byte[][] AllGatherBytes(ReadOnlySpan<byte> data)
            {
                var mine = data.ToArray();
                return Enumerable.Range(0, WorldSize).Select(r => r == Rank ? mine : _others(r)).ToArray();
            }

            public AllToAllResult AllToAll(Tensor send, ReadOnlySpan<long> sendCounts) => throw new NotSupportedException();
            public Tensor AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum) => throw new NotSupportedException();
            public void AllReduceInPlace(Tensor tensor, ReduceOp op = ReduceOp.Sum) => throw new NotSupportedException();
            public void Barrier() => throw new NotSupportedException();
            public void Dispose()
            {
            }
        }
    }
}
