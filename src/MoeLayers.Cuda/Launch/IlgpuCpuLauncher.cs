using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using TorchSharp;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Runs the kernels on CPU tensors with ILGPU's CPU accelerator, which executes them thread by thread with real
    /// barriers and shared memory (warps of 32 threads, like the GPU). Views wrap the tensors' memory, so kernels read
    /// and write the tensors directly. Slow, and meant for tests: it lets CI check the kernels without a GPU.
    /// </summary>
    internal sealed class IlgpuCpuLauncher : IKernelLauncher, IDisposable
    {
        private const int WarpSize = 32;
        private readonly Context _context;
        private readonly CPUAccelerator _accelerator;
        private readonly ConcurrentDictionary<KernelDefinition, Kernel> _kernels = new();
        private readonly object _gate = new();

        /// <summary>Creates the CPU accelerator with room for blocks of up to <paramref name="maxThreadsPerBlock"/> threads.</summary>
        /// <param name="maxThreadsPerBlock">A power of two in [32, 1024].</param>
        public IlgpuCpuLauncher(int maxThreadsPerBlock = 64)
        {
            if (maxThreadsPerBlock < WarpSize || maxThreadsPerBlock > KernelLimits.MaxThreadsPerBlock || (maxThreadsPerBlock & (maxThreadsPerBlock - 1)) != 0)
                throw new ArgumentOutOfRangeException(nameof(maxThreadsPerBlock), maxThreadsPerBlock,
                    $"maxThreadsPerBlock must be a power of two in [{WarpSize}, {KernelLimits.MaxThreadsPerBlock}]; got {maxThreadsPerBlock}.");
            var device = new CPUDevice(WarpSize, maxThreadsPerBlock / WarpSize, 1);
            _context = Context.Create(builder => builder.CPU(device).Optimize(OptimizationLevel.O1));
            _accelerator = device.CreateCPUAccelerator(_context);
            MaxThreadsPerBlock = maxThreadsPerBlock;
        }

        /// <summary>Largest block size this accelerator runs.</summary>
        public int MaxThreadsPerBlock { get; }

        /// <inheritdoc />
        public void Launch(KernelDefinition kernel, LaunchDims dims, params KernelArgument[] arguments)
        {
            KernelArgument.Validate(kernel, arguments);
            if (dims.Threads > MaxThreadsPerBlock)
                throw new ArgumentOutOfRangeException(nameof(dims), $"{kernel.Name}: {dims.Threads} threads per block exceed this launcher's {MaxThreadsPerBlock}.");
            if (dims.Blocks == 0) return;
            var buffers = new List<MemoryBuffer>();
            try
            {
                var values = new object[arguments.Length];
                for (var i = 0; i < arguments.Length; i++)
                {
                    var tensor = arguments[i].Tensor;
                    if (tensor is null)
                    {
                        values[i] = arguments[i].Value;
                        continue;
                    }
                    if (tensor.device_type != DeviceType.CPU)
                        throw new ArgumentException($"{kernel.Name}: the CPU launcher takes CPU tensors; got one on {tensor.device}.", nameof(arguments));
                    values[i] = View(kernel.Parameters[i], tensor, buffers);
                }
                lock (_gate)
                {
                    var compiled = _kernels.GetOrAdd(kernel, k => _accelerator.LoadKernel(k.Method));
                    compiled.Launch(_accelerator.DefaultStream, new KernelConfig(dims.Blocks, dims.Threads), values);
                    _accelerator.Synchronize();
                }
            }
            finally
            {
                foreach (var buffer in buffers) buffer.Dispose();
            }
        }

        /// <inheritdoc />
        public void Dispose()
        {
            _accelerator.Dispose();
            _context.Dispose();
        }

        private object View(KernelParameter parameter, torch.Tensor tensor, List<MemoryBuffer> buffers)
        {
            var element = parameter.ElementType!;
            var length = KernelArgument.ViewLength(parameter, tensor);
            var elementSize = parameter.ElementSize;
            // An empty tensor has no address; kernels never touch it, but the view still needs a backing buffer.
            var buffer = length == 0
                ? CPUMemoryBuffer.Create(_accelerator, 1, elementSize)
                : CPUMemoryBuffer.Create(_accelerator, TensorMemory.Address(tensor), length, elementSize);
            buffers.Add(buffer);
            var viewType = typeof(ArrayView<>).MakeGenericType(element);
            var constructor = viewType.GetConstructor(BindingFlags.Public | BindingFlags.Instance, new[] { typeof(MemoryBuffer), typeof(long), typeof(long) })!;
            return constructor.Invoke(new object[] { buffer, 0L, length });
        }
    }
}
