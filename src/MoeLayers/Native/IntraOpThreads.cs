using System;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
using TorchSharp;

namespace MoeLayers
{
    /// <summary>
    /// Runs C# work items on libtorch's own intra-op threads: the OpenMP team libtorch's CPU operators use, entered
    /// through libgomp's <c>GOMP_parallel</c> (found beside the libtorch_cpu that TorchSharp loaded, as the Linux builds
    /// of libtorch link it). A second pool would fight that one for the cores: libgomp's idle threads spin for
    /// milliseconds after each operator and .NET's pool threads spin after each Parallel.For, so a decode step that
    /// alternates between them measured 7–30 ms against 0.5–1.5 ms (2 cores, the fine layer at T = 1) and recovered with
    /// OMP_WAIT_POLICY=PASSIVE or with the .NET threads' spinning turned off. Where libgomp is not found (other platforms
    /// and builds) the items run through <see cref="System.Threading.Tasks.Parallel.For(int, int, Action{int})"/>.
    /// </summary>
    internal static unsafe class IntraOpThreads
    {
        private static readonly delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> GompParallel = FindGompParallel(out Reason);

        /// <summary>Null when the items run on libtorch's OpenMP threads; else why they run on .NET's thread pool.</summary>
        public static readonly string? Reason;

        /// <summary>
        /// Runs <paramref name="body"/>(i) for every i in [0, <paramref name="count"/>), each exactly once, on at most
        /// torch.get_num_threads() threads (the caller's among them), handing out items in order as threads free up; returns
        /// when all have run. The first exception an item throws is rethrown here after the others finish.
        /// </summary>
        /// <param name="count">Number of work items.</param>
        /// <param name="body">One item's work; must be safe to run concurrently with the others.</param>
        public static void For(int count, Action<int> body)
        {
            ArgumentNullException.ThrowIfNull(body);
            if (count <= 0) return;
            var threads = Math.Min(count, torch.get_num_threads());
            if (threads <= 1)
            {
                for (var i = 0; i < count; i++) body(i);
                return;
            }
            if (GompParallel == null)
            {
                System.Threading.Tasks.Parallel.For(0, count, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = threads }, body);
                return;
            }
            var work = new Work(body, count);
            var handle = GCHandle.Alloc(work);
            try
            {
                GompParallel(&RunItems, (void*)GCHandle.ToIntPtr(handle), (uint)threads, 0);
            }
            finally
            {
                handle.Free();
            }
            if (work.Failure is { } failure) ExceptionDispatchInfo.Throw(failure);
        }

        [UnmanagedCallersOnly]
        private static void RunItems(void* state)
        {
            var work = (Work)GCHandle.FromIntPtr((IntPtr)state).Target!;
            try
            {
                for (var i = Interlocked.Increment(ref work.Next) - 1; i < work.Count; i = Interlocked.Increment(ref work.Next) - 1) work.Body(i);
            }
            catch (Exception e)
            {
                // An exception must not cross into native code; the caller rethrows the first one.
                Interlocked.CompareExchange(ref work.Failure, e, null);
                work.Next = work.Count;
            }
        }

        private static delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> FindGompParallel(out string? reason)
        {
            reason = null;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                reason = "libtorch's OpenMP runtime is looked up on Linux only.";
                return null;
            }
            // TorchSharp loads libtorch_cpu first, so the bare name finds the loaded library, and a symbol lookup through
            // its handle searches its dependencies: the libgomp it was linked with.
            if (!torch.TryInitializeDeviceType(DeviceType.CPU) || !NativeLibrary.TryLoad("libtorch_cpu.so", out var library))
            {
                reason = "libtorch_cpu.so is not loaded.";
                return null;
            }
            if (!NativeLibrary.TryGetExport(library, "GOMP_parallel", out var parallel))
            {
                reason = "the loaded libtorch_cpu.so does not use libgomp (no GOMP_parallel among its dependencies).";
                return null;
            }
            return (delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void>)parallel;
        }

        /// <summary>One call's items, shared by the team's threads.</summary>
        private sealed class Work
        {
            public Work(Action<int> body, int count)
            {
                Body = body;
                Count = count;
            }

            public Action<int> Body { get; }

            public int Count { get; }

            public int Next;

            public Exception? Failure;
        }
    }
}
