using System;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Data;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class BatchSamplerTests
    {
        [Fact]
        public void Blocks_are_contiguous_and_targets_are_the_next_characters()
        {
            using var stream = arange(100L, int64) * 3; // token value = 3 · position, so positions can be read back

            var (inputs, targets) = BatchSampler.Sample(stream, blockSize: 10, batchSize: 6, new Random(1));

            inputs.shape.Should().Equal(6L, 10L);
            targets.shape.Should().Equal(6L, 10L);
            var x = inputs.data<long>().ToArray();
            var y = targets.data<long>().ToArray();
            for (var b = 0; b < 6; b++)
            {
                var start = x[b * 10] / 3;
                start.Should().BeInRange(0, 89);
                for (var t = 0; t < 10; t++)
                {
                    x[b * 10 + t].Should().Be(3 * (start + t));
                    y[b * 10 + t].Should().Be(3 * (start + t + 1));
                }
            }
        }

        [Fact]
        public void The_same_seed_draws_the_same_batch()
        {
            using var stream = arange(1000L, int64);

            var (a, _) = BatchSampler.Sample(stream, 8, 4, new Random(5));
            var (b, _) = BatchSampler.Sample(stream, 8, 4, new Random(5));

            a.data<long>().ToArray().Should().Equal(b.data<long>().ToArray());
        }

        [Fact]
        public void A_stream_no_longer_than_the_block_is_rejected()
        {
            using var stream = arange(8L, int64);

            var act = () => BatchSampler.Sample(stream, 8, 1, new Random(0));

            act.Should().Throw<ArgumentException>().WithParameterName("tokens");
        }
    }
}
