using System;
using ILGPU.Runtime.Cuda;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The PTX target for a GPU. ILGPU 1.5.3 emits code for sm_80 at most (asking for sm_90 still yields
    /// <c>.target sm_80</c>), so Ampere and everything newer (Hopper, Blackwell) share the sm_80 PTX, which the driver
    /// compiles for the actual GPU when the module loads: PTX is forward compatible. Each target uses the lowest PTX ISA
    /// it needs, so older drivers load it too.
    /// </summary>
    /// <param name="Architecture">ILGPU's architecture value (sm_XY).</param>
    /// <param name="InstructionSet">PTX ISA version.</param>
    internal readonly record struct CudaTarget(CudaArchitecture Architecture, CudaInstructionSet InstructionSet)
    {
        /// <summary>The oldest GPUs the fused dispatch supports (Volta, compute capability 7.0).</summary>
        public const int MinimumComputeCapability = 70;

        /// <summary>The target for a device of compute capability major.minor.</summary>
        /// <param name="major">Major compute capability.</param>
        /// <param name="minor">Minor compute capability.</param>
        public static CudaTarget ForDevice(int major, int minor)
        {
            var capability = major * 10 + minor;
            if (capability < MinimumComputeCapability)
                throw new ArgumentOutOfRangeException(nameof(major), $"Compute capability {major}.{minor} is below the supported {MinimumComputeCapability / 10}.{MinimumComputeCapability % 10}.");
            return capability switch
            {
                >= 80 => new(CudaArchitecture.SM_80, CudaInstructionSet.ISA_70),
                >= 75 => new(CudaArchitecture.SM_75, CudaInstructionSet.ISA_63),
                >= 72 => new(CudaArchitecture.SM_72, CudaInstructionSet.ISA_61),
                _ => new(CudaArchitecture.SM_70, CudaInstructionSet.ISA_60),
            };
        }

        /// <inheritdoc />
        public override string ToString() => $"{Architecture} (PTX {InstructionSet})";
    }
}
