using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using FluentAssertions;
using TorchSharp;

namespace MoeLayers.Tests.Native
{
    public class IntraOpThreadsTests
    {
        [Fact]
        public void Linux_builds_of_libtorch_lend_their_OpenMP_threads()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return;
            IntraOpThreads.Reason.Should().BeNull("TorchSharp-cpu's libtorch_cpu.so on Linux is linked with libgomp");
        }

        [Fact]
        public void Every_item_runs_exactly_once_on_at_most_the_intra_op_thread_count()
        {
            var runs = new int[1000];
            var threads = new ConcurrentDictionary<int, bool>();
            IntraOpThreads.For(runs.Length, i =>
            {
                Interlocked.Increment(ref runs[i]);
                threads[Environment.CurrentManagedThreadId] = true;
            });
            runs.Should().OnlyContain(r => r == 1);
            threads.Count.Should().BeInRange(1, torch.get_num_threads());
        }

        [Fact]
        public void No_items_run_nothing_and_one_item_runs_on_the_caller()
        {
            var calls = 0;
            IntraOpThreads.For(0, _ => calls++);
            calls.Should().Be(0);
            var caller = Environment.CurrentManagedThreadId;
            var ranOn = -1;
            IntraOpThreads.For(1, _ => ranOn = Environment.CurrentManagedThreadId);
            ranOn.Should().Be(caller);
        }

        [Fact]
        public void An_items_exception_reaches_the_caller_after_the_call()
        {
            var act = () => IntraOpThreads.For(64, i =>
            {
                if (i == 17) throw new InvalidOperationException("item 17 failed");
            });
            act.Should().Throw<InvalidOperationException>().WithMessage("item 17 failed");
            // The team is usable again afterwards.
            var sum = 0;
            IntraOpThreads.For(10, i => Interlocked.Add(ref sum, i));
            sum.Should().Be(45);
        }

        [Fact]
        public void Items_may_call_torch_and_allocate_managed_memory()
        {
            var norms = new double[16];
            IntraOpThreads.For(norms.Length, i =>
            {
                using var t = torch.full(4, (float)i);
                norms[i] = t.norm().item<float>();
                GC.Collect(0);
            });
            norms.Should().Equal(Enumerable.Range(0, 16).Select(i => 2.0 * i));
        }
    }
}
