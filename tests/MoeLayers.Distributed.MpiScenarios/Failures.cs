using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.MpiScenarios
{
    /// <summary>Ranks that never join a collective: the others must fail with the timeout error, not hang.</summary>
    internal static class Failures
    {
        /// <summary>
        /// The last rank kills itself (SIGKILL) after a barrier; the others enter an all-to-all. Under plain mpirun the job
        /// is ended by mpirun as soon as it sees the death; under <c>mpirun --enable-recovery</c> the survivors live on and
        /// must throw <see cref="CommunicatorTimeoutException"/> within the timeout, then abort the job on dispose.
        /// </summary>
        public static int DeadRank(TimeSpan timeout)
        {
            var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            comm.Barrier();
            if (comm.Rank == comm.WorldSize - 1)
            {
                Program.Say(comm.Rank, "dying abruptly (SIGKILL) before the all-to-all");
                Process.GetCurrentProcess().Kill();
                Thread.Sleep(Timeout.Infinite);
            }
            return Survive(comm, "the dead rank");
        }

        /// <summary>The last rank stays alive but does not join for far longer than the timeout (stuck, or in another collective).</summary>
        public static int StuckRank(TimeSpan timeout)
        {
            var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            comm.Barrier();
            if (comm.Rank == comm.WorldSize - 1)
            {
                var nap = timeout + TimeSpan.FromSeconds(120);
                Program.Say(comm.Rank, $"stuck: sleeping {nap.TotalSeconds:0} s before the all-to-all");
                Thread.Sleep(nap);
                Program.Say(comm.Rank, "woke up: the job should have been aborted long ago");
                return 1;
            }
            return Survive(comm, "the stuck rank");
        }

        /// <summary>
        /// Rank 0 is stuck while the others finish and dispose: their disposal must not hang in MPI_Finalize (which waits
        /// for every rank without a deadline) but time out in its barrier and abort the job.
        /// </summary>
        public static int LeaveEarly(TimeSpan timeout)
        {
            var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            comm.Barrier();
            if (comm.Rank == 0)
            {
                var nap = timeout + TimeSpan.FromSeconds(120);
                Program.Say(comm.Rank, $"stuck: sleeping {nap.TotalSeconds:0} s before disposing");
                Thread.Sleep(nap);
                Program.Say(comm.Rank, "woke up: the job should have been aborted long ago");
                return 1;
            }
            Program.Say(comm.Rank, "done: disposing while rank 0 is stuck");
            comm.Dispose();
            Program.Say(comm.Rank, "FAIL: Dispose returned although rank 0 never arrived");
            return 1;
        }

        /// <summary>
        /// The last rank starts 20 s late: the others' MPI_Init waits for it, and their watchdog must end them after
        /// <paramref name="connect"/> with a message instead of letting them hang.
        /// </summary>
        public static int LateStart(TimeSpan timeout, TimeSpan connect)
        {
            var size = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE");
            var last = size == null ? null : (int.Parse(size, CultureInfo.InvariantCulture) - 1).ToString(CultureInfo.InvariantCulture);
            if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") == last)
            {
                Console.Out.WriteLine($"[rank {last}] starting 20 s late");
                Console.Out.Flush();
                Thread.Sleep(TimeSpan.FromSeconds(20));
            }
            using var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = connect });
            Program.Say(comm.Rank, "FAIL: constructed although a rank started after the connect timeout");
            return 1;
        }

        private static int Survive(MpiCommunicator comm, string missing)
        {
            Thread.Sleep(200);   // let the last rank reach its end first
            Program.Say(comm.Rank, $"entering the all-to-all without {missing}");
            var clock = Stopwatch.StartNew();
            try
            {
                using var scope = NewDisposeScope();
                var counts = new long[comm.WorldSize];
                Array.Fill(counts, 2);
                comm.AllToAll(ones(2 * comm.WorldSize, 4), counts);
                Program.Say(comm.Rank, "FAIL: the all-to-all completed without " + missing);
                return 1;
            }
            catch (CommunicatorTimeoutException e)
            {
                Program.Say(comm.Rank, string.Create(CultureInfo.InvariantCulture, $"TIMEOUT as expected after {clock.Elapsed.TotalSeconds:F1} s: {e.Message}"));
            }
            try
            {
                comm.Barrier();
                Program.Say(comm.Rank, "FAIL: a faulted communicator accepted another collective");
                return 1;
            }
            catch (InvalidOperationException e)
            {
                Program.Say(comm.Rank, "faulted as expected: " + e.Message);
            }
            Program.Say(comm.Rank, "disposing the faulted communicator: MPI_Abort ends the job");
            comm.Dispose();
            Program.Say(comm.Rank, "FAIL: MPI_Abort returned");
            return 1;
        }
    }
}
