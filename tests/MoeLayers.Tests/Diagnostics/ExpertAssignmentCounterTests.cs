using System;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Diagnostics
{
    public class ExpertAssignmentCounterTests
    {
        [Fact]
        public void CountsEqualADirectCount()
        {
            var counter = new ExpertAssignmentCounter(3, 2);
            counter.Add(tensor(new long[] { 0, 1, 2, 1, 0, 2 }).reshape(3, 2), tensor(new long[] { 0, 1, 1 }));
            counter.Add(tensor(new long[] { 2 }), tensor(new long[] { 0 }));
            counter.ToArray().Should().BeEquivalentTo(new long[,] { { 1, 1 }, { 1, 1 }, { 1, 2 } });
            counter.FractionsPerLabel()[2, 1].Should().BeApproximately(0.5, 1e-12);
        }

        [Fact]
        public void RejectsLabelsOutOfRange()
        {
            var counter = new ExpertAssignmentCounter(2, 2);
            counter.Invoking(c => c.Add(tensor(new long[] { 0 }), tensor(new long[] { 5 })))
                .Should().Throw<ArgumentOutOfRangeException>().WithMessage("labels must be in [0, 2); got 5 at position 0.*");
        }
    }
}
