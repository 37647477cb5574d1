using System;
using FluentAssertions;
using MoeLayers.Cuda;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>What reaches a kernel launch: argument checks, tensor addresses, and the CUDA launcher's parameter block.</summary>
    public class LaunchArgumentTests
    {
        [Fact]
        public void ArgumentsAreCheckedAgainstTheKernelBeforeAnyLaunch()
        {
            var kernel = KernelCatalog.CountExperts; // (long[] indices, int[] blockCounts, int[] status, int, int, int)
            var indices = zeros(6, ScalarType.Int64);
            var counts = zeros(4, ScalarType.Int32);
            var status = zeros(1, ScalarType.Int32);
            Invoking(kernel, indices, counts, status, 6, 2).Should().Throw<ArgumentException>().WithMessage("CountExperts takes 6 arguments; got 5.*");
            Invoking(kernel, indices.to(ScalarType.Int32), counts, status, 6, 2, 4).Should().Throw<ArgumentException>().WithMessage("*expertIndices must hold Int64 elements; got Int32*");
            Invoking(kernel, indices, counts, 3, 6, 2, 4).Should().Throw<ArgumentException>().WithMessage("*status must be a tensor*");
            Invoking(kernel, zeros(3, 2, ScalarType.Int64).t(), counts, status, 6, 2, 4).Should().Throw<ArgumentException>().WithMessage("*must be contiguous*");
            Invoking(kernel, indices, counts, status, 6, 2, 4).Should().NotThrow();
        }

        [Fact]
        public void TensorAddressesIncludeTheStorageOffsetWithoutCopying()
        {
            var data = arange(10, ScalarType.Int64);
            var tail = data.narrow(0, 4, 6);
            (TensorMemory.Address(tail) - TensorMemory.Address(data)).Should().Be(4 * sizeof(long));
            var half = arange(8, ScalarType.Float32).to(ScalarType.BFloat16);
            (TensorMemory.Address(half.narrow(0, 3, 2)) - TensorMemory.Address(half)).Should().Be(6, "bfloat16 elements are 2 bytes");
            System.Runtime.InteropServices.Marshal.ReadInt64(TensorMemory.Address(tail), sizeof(long))
                .Should().Be(5, "the address points into the tensor's own memory");
        }

        [Fact]
        public void TheCudaParameterBlockHoldsAddressAndLengthPerViewAndIntsInTheLowBytes()
        {
            var view = arange(5, ScalarType.Float32);
            var slots = new long[4];
            CudaLauncher.Pack(new KernelArgument[] { view, -3 }, slots);
            slots[0].Should().Be(TensorMemory.Address(view));
            slots[1].Should().Be(5);
            BitConverter.ToInt32(BitConverter.GetBytes(slots[2]), 0).Should().Be(-3);
            (slots[2] >> 32).Should().Be(0);
        }

        private static Action Invoking(KernelDefinition kernel, params KernelArgument[] arguments) =>
            () => KernelArgument.Validate(kernel, arguments);
    }
}
