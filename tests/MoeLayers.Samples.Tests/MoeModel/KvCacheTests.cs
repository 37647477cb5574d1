using System;
using System.Collections.Generic;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>The KV cache against concatenation, across the buffers' growth.</summary>
    public sealed class KvCacheTests
    {
        [Fact]
        public void AppendReturnsEveryPositionSoFarAcrossGrowth()
        {
            using var scope = NewDisposeScope();
            manual_seed(21);
            using var cache = new KvCache(2);
            var expected = new List<Tensor>[] { new(), new() };
            // A prompt, single tokens past the first buffer (256 positions), then a chunk that needs more than one doubling.
            var chunks = new List<long> { 100 };
            for (var i = 0; i < 160; i++) chunks.Add(1);
            chunks.Add(700);
            long total = 0;
            foreach (var chunk in chunks)
            {
                total += chunk;
                for (var layer = 0; layer < 2; layer++)
                {
                    var keys = randn(2, 3, chunk, 4);
                    expected[layer].Add(keys);
                    var (allKeys, allValues) = cache.Append(layer, keys, keys * -1);
                    var concatenated = cat(expected[layer].ToArray(), dim: 2);
                    allKeys.shape.Should().Equal(2, 3, total, 4);
                    allKeys.allclose(concatenated, 0, 0).Should().BeTrue($"layer {layer} after {total} positions");
                    allValues.allclose(-concatenated, 0, 0).Should().BeTrue();
                }
                cache.Length.Should().Be(total);
            }
            total.Should().Be(960, "the buffers grew from 256 to 512 to 1024 positions");
        }

        [Fact]
        public void AnotherBatchSizeIsRefusedAndDisposeEmptiesTheCache()
        {
            using var scope = NewDisposeScope();
            using var cache = new KvCache(1);
            cache.Append(0, zeros(2, 1, 3, 4), zeros(2, 1, 3, 4));
            var append = () => cache.Append(0, zeros(1, 1, 1, 4), zeros(1, 1, 1, 4));
            append.Should().Throw<ArgumentException>().WithMessage("*holds a batch of 2; this forward has 1*");
            cache.Dispose();
            cache.Length.Should().Be(0);
        }
    }
}
