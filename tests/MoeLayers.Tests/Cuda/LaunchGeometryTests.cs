using System;
using FluentAssertions;
using MoeLayers.Cuda;

namespace MoeLayers.Tests.Cuda
{
    public class LaunchGeometryTests
    {
        [Theory]
        [InlineData(16384, 2, 8, 256, 64)]
        [InlineData(1000, 1, 4, 256, 4)]
        [InlineData(1000, 8, 64, 256, 4)]
        [InlineData(1000, 16, 64, 128, 8)]
        [InlineData(5, 1024, 1024, 2, 3)]
        public void PairPartitionFitsABlockOfPairsInSharedMemory(long tokens, int k, int experts, int tokensPerBlock, int blocks)
        {
            var partition = new LaunchGeometry().Partition(tokens, k, experts);
            partition.TokensPerBlock.Should().Be(tokensPerBlock);
            partition.Blocks.Should().Be(blocks);
            partition.PairsPerBlock.Should().BeLessThanOrEqualTo(KernelLimits.MaxPairsPerBlock);
            partition.Dims.Should().Be(new LaunchDims(blocks, tokensPerBlock));
        }

        [Theory]
        [InlineData(4096, 256, 512, 256, 32)] // d = 1024 float32 in 16-byte packets: a warp per row, 8 rows per block
        [InlineData(4096, 128, 512, 256, 32)] // d = 1024 bfloat16 in packets
        [InlineData(10, 12, 1, 256, 16)] // 12 packets: 16 threads per row, 16 rows per block
        [InlineData(3, 3, 1, 256, 4)]
        [InlineData(1000, 1, 4, 256, 1)] // one packet per row: a row per thread
        [InlineData(0, 16, 0, 256, 16)]
        [InlineData(300_000_000, 64, 1 << 20, 256, 32)]
        public void RowKernelsPutSeveralRowsInABlockWithAPowerOfTwoThreadsPerRow(long rows, long width, int blocks, int threads, int rowThreads)
        {
            var launch = new LaunchGeometry().Rows(rows, width);
            launch.Should().Be(new RowLaunch(new LaunchDims(blocks, threads), rowThreads));
            (launch.Dims.Threads % launch.RowThreads).Should().Be(0);
        }

        [Fact]
        public void SmallBlocksKeepAWholeRowGroupInTheBlock()
        {
            new LaunchGeometry(16).Rows(10, 100).Should().Be(new RowLaunch(new LaunchDims(10, 16), 16));
            new LaunchGeometry(32).Rows(10, 3).Should().Be(new RowLaunch(new LaunchDims(2, 32), 4));
        }

        [Fact]
        public void ScansRunOneBlockPerExpertAndRanksAtMostTheSharedMemoryBlock()
        {
            var geometry = new LaunchGeometry();
            geometry.ExpertScan(64).Should().Be(new LaunchDims(64, 256));
            geometry.OffsetScan.Should().Be(new LaunchDims(1, 256));
            var fine = geometry.Partition(16384, 8, 64);
            geometry.Rank(fine).Should().Be(new LaunchDims(64, 256), "2048 pairs per block walked in 8 chunks of 256");
            var wide = new LaunchGeometry(1024).Partition(16384, 1, 8);
            geometry.Rank(wide).Should().Be(new LaunchDims(16, KernelLimits.MaxRankThreads), "1024 tokens per block, ranked by 256 threads");
        }

        [Fact]
        public void LimitsFailBeforeAnyLaunchWithTheLimitNamed()
        {
            var geometry = new LaunchGeometry();
            geometry.Invoking(g => g.Partition(10, 2, 2048)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*1 to 1024 experts*");
            geometry.Invoking(g => g.Partition(1L << 31, 2, 8)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*T·k must be at most*");
            geometry.Invoking(g => g.Partition(0, 2, 8)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*tokens must be at least 1*");
            geometry.Invoking(g => g.Partition(10, 9, 8)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*topK must be in [1, 8]*");
            var act = () => new LaunchGeometry(48);
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*power of two*");
        }
    }
}
