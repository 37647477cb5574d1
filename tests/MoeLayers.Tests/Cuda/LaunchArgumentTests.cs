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
            var kernel = KernelCatalog.Float32Rows.Combine; // (rows, weights, rowOfPair, output, tokens, width, topK, useWeights, rowThreads)
            var rows = arange(5, ScalarType.Float32);
            var arguments = new KernelArgument[] { rows, rows, zeros(2, ScalarType.Int32), rows, -3, 1, 1, 0, 4 };
            var slots = new long[2 * arguments.Length];
            CudaLauncher.Pack(kernel, arguments, slots);
            slots[0].Should().Be(TensorMemory.Address(rows));
            slots[1].Should().Be(5);
            slots[5].Should().Be(2, "an int32 view's length counts ints");
            BitConverter.ToInt32(BitConverter.GetBytes(slots[8]), 0).Should().Be(-3);
            (slots[8] >> 32).Should().Be(0);
        }

        [Fact]
        public void PacketViewsCountSixteenByteElementsAndRefuseUnalignedTensors()
        {
            var kernel = KernelCatalog.BFloat16Packed.Gather; // (source, pairOfRow, rows, numRows, width, topK, rowThreads)
            kernel.Parameters[0].ElementSize.Should().Be(16);
            kernel.Parameters[0].IsPacket.Should().BeTrue();
            var source = zeros(4, 16, ScalarType.BFloat16);
            var rows = zeros(2, 16, ScalarType.BFloat16);
            var pairOfRow = zeros(2, ScalarType.Int32);
            var slots = new long[14];
            CudaLauncher.Pack(kernel, new KernelArgument[] { source, pairOfRow, rows, 2, 2, 1, 2 }, slots);
            slots[1].Should().Be(8, "64 bfloat16 values are eight 16-byte packets");
            slots[5].Should().Be(4, "four bfloat16 values hold 32 bytes: two packets");

            var shifted = zeros(65, ScalarType.BFloat16).narrow(0, 1, 64).view(4, 16);
            KernelArgument.IsPacketAligned(shifted).Should().BeFalse("the view starts 2 bytes into its storage");
            KernelArgument.IsPacketAligned(zeros(3, 5, ScalarType.BFloat16)).Should().BeFalse("30 bytes are no whole packet");
            KernelArgument.IsPacketAligned(source).Should().BeTrue();
            Invoking(kernel, shifted, pairOfRow, rows, 2, 2, 1, 2).Should().Throw<ArgumentException>().WithMessage("*source*16-byte packets*multiples of 16*");
            Invoking(kernel, source.to(ScalarType.Float32), pairOfRow, rows, 2, 2, 1, 2).Should().Throw<ArgumentException>().WithMessage("*must hold Half8 elements; got Float32*");
            Invoking(kernel, source, pairOfRow, rows, 2, 2, 1, 2).Should().NotThrow();
        }

        private static Action Invoking(KernelDefinition kernel, params KernelArgument[] arguments) =>
            () => KernelArgument.Validate(kernel, arguments);
    }
}
