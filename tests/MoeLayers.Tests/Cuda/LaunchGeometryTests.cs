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
        [InlineData(4096, 1024, 4096, 256)]
        [InlineData(10, 8, 10, 32)]
        [InlineData(3, 100, 3, 128)]
        [InlineData(0, 16, 0, 32)]
        [InlineData(3_000_000, 64, 1 << 20, 64)]
        public void RowKernelsGetOneBlockPerRowAndAPowerOfTwoOfThreads(long rows, long width, int blocks, int threads)
        {
            new LaunchGeometry().Rows(rows, width).Should().Be(new LaunchDims(blocks, threads));
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
