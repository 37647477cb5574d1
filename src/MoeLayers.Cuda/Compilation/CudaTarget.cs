using System;
using ILGPU.Runtime.Cuda;

namespace MoeLayers.Cuda.Compilation
{
    /// <summary>
    /// The PTX target for a GPU: the device's own architecture when ILGPU knows it, else the newest one it knows below
    /// (PTX is forward compatible: the driver compiles it for newer GPUs), and the lowest PTX ISA that architecture needs,
    /// so that old drivers can still load the code.
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
                >= 120 => new(CudaArchitecture.SM_120, CudaInstructionSet.ISA_87),
                >= 100 => new(CudaArchitecture.SM_100, CudaInstructionSet.ISA_86),
                >= 90 => new(CudaArchitecture.SM_90, CudaInstructionSet.ISA_78),
                >= 89 => new(CudaArchitecture.SM_89, CudaInstructionSet.ISA_78),
                >= 87 => new(CudaArchitecture.SM_87, CudaInstructionSet.ISA_74),
                >= 86 => new(CudaArchitecture.SM_86, CudaInstructionSet.ISA_71),
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
