using System;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Support
{
    internal static class TensorAssert
    {
        public static double[] Values(Tensor t)
        {
            using var d = t.detach().to(ScalarType.Float64).cpu().contiguous();
            return d.data<double>().ToArray();
        }

        public static void Close(Tensor actual, Tensor expected, double tolerance, string because = "")
        {
            actual.shape.Should().Equal(expected.shape, because);
            var a = Values(actual);
            var e = Values(expected);
            var worst = a.Zip(e, (x, y) => Math.Abs(x - y)).DefaultIfEmpty(0).Max();
            worst.Should().BeLessThanOrEqualTo(tolerance, because);
        }

        public static void Close(Tensor actual, double expected, double tolerance, string because = "")
        {
            actual.item<float>().Should().BeApproximately((float)expected, (float)tolerance, because);
        }
    }
}
