using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.MpiScenarios
{
    /// <summary>
    /// Every collective against values each rank computes on its own: all-to-all with uneven counts (zeros included) in
    /// several dtypes and row shapes, all-reduce sum/max/min, all-gather, barrier, and the mismatch checks, which must
    /// throw the same message on every rank and leave the communicator usable.
    /// </summary>
    internal static class Collectives
    {
        private static int _passed;
        private static int _failed;

        public static int Run(TimeSpan timeout)
        {
            using var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            var rank = comm.Rank;
            var world = comm.WorldSize;
            Program.Say(rank, $"world {world}, {comm.LibraryVersion}, loaded {comm.LibraryPath}, timeout {comm.Timeout.TotalSeconds} s");
            if (world < 2)
            {
                Program.Say(rank, "FAIL: the collectives scenario needs at least two ranks: mpirun -np 2 (or more) dotnet MoeLayers.Distributed.MpiScenarios.dll collectives");
                return 2;
            }

            Check(rank, ".NET still owns SIGSEGV and SIGFPE after MPI_Init (null reference and division by zero throw)", () =>
            {
                string? nothing = null;
                var nre = false;
                try { _ = nothing!.Length; } catch (NullReferenceException) { nre = true; }
                var zero = world - world;
                var dbz = false;
                try { _ = rank / zero; } catch (DivideByZeroException) { dbz = true; }
                Expect(nre && dbz, $"NullReferenceException {nre}, DivideByZeroException {dbz}");
            });

            // All-to-all: counts c(s, d) rows from rank s to rank d, row values a function of (s, d, row, element).
            Func<int, int, long> uneven = (s, d) => (s + 2 * d) % 3;
            Func<int, int, long> larger = (s, d) => 1 + 7 * s + 3 * d + (s == d ? 5 : 0);
            Func<int, int, long> none = (s, d) => 0;
            AllToAllCase(comm, "float32 rows [*, 3, 2], uneven counts with zero rows to some ranks", uneven, new long[] { 3, 2 }, ScalarType.Float32);
            AllToAllCase(comm, "float32 rows [*, 3, 2], larger counts", larger, new long[] { 3, 2 }, ScalarType.Float32);
            AllToAllCase(comm, "float64 rows [*, 5]", larger, new long[] { 5 }, ScalarType.Float64);
            AllToAllCase(comm, "bfloat16 rows [*, 4]", uneven, new long[] { 4 }, ScalarType.BFloat16);
            AllToAllCase(comm, "bfloat16 rows [*, 4], larger counts", larger, new long[] { 4 }, ScalarType.BFloat16);
            AllToAllCase(comm, "float16 rows [*, 4]", larger, new long[] { 4 }, ScalarType.Float16);
            AllToAllCase(comm, "int64 rows [*] (scalars) beyond 2^53", larger, Array.Empty<long>(), ScalarType.Int64);
            AllToAllCase(comm, "int64 rows [*, 2, 2]", uneven, new long[] { 2, 2 }, ScalarType.Int64);
            AllToAllCase(comm, "int32 rows [*, 3]", larger, new long[] { 3 }, ScalarType.Int32);
            AllToAllCase(comm, "no rows at all", none, new long[] { 4 }, ScalarType.Float32);
            AllToAllCase(comm, "rows of zero width [*, 0]", larger, new long[] { 0 }, ScalarType.Float32);
            AllToAllCase(comm, "non-contiguous input", larger, new long[] { 3, 2 }, ScalarType.Float32, nonContiguous: true);
            AllToAllCase(comm, "input that requires grad", uneven, new long[] { 3 }, ScalarType.Float32, requiresGrad: true);

            Check(rank, "AllToAll statistics count the row bytes sent and received", () =>
            {
                using var scope = NewDisposeScope();
                comm.Statistics.Reset();
                var send = SendRows(rank, world, larger, new long[] { 3, 2 }, ScalarType.Float32);
                comm.AllToAll(send, Counts(rank, world, larger));
                var rowBytes = 3 * 2 * 4;
                var sent = Enumerable.Range(0, world).Sum(d => larger(rank, d)) * rowBytes;
                var received = Enumerable.Range(0, world).Sum(s => larger(s, rank)) * rowBytes;
                Expect(comm.Statistics.AllToAllCalls == 1 && comm.Statistics.AllToAllBytesSent == sent && comm.Statistics.AllToAllBytesReceived == received,
                    $"calls {comm.Statistics.AllToAllCalls}, sent {comm.Statistics.AllToAllBytesSent} (expected {sent}), received {comm.Statistics.AllToAllBytesReceived} (expected {received})");
            });

            // All-reduce: rank r contributes base·(r + 1), base = 1..12 as [3, 4].
            long sumFactor = world * (world + 1) / 2;
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64, ScalarType.BFloat16, ScalarType.Float16, ScalarType.Int64, ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte })
            {
                foreach (var (op, factor) in new[] { (ReduceOp.Sum, sumFactor), (ReduceOp.Max, (long)world), (ReduceOp.Min, 1L) })
                {
                    Check(rank, $"AllReduce {op} {Name(dtype)}", () =>
                    {
                        using var scope = NewDisposeScope();
                        var local = (Base() * (rank + 1)).to_type(dtype);
                        var before = local.clone();
                        var result = comm.AllReduce(local, op);
                        var expected = (Base() * factor).to_type(dtype);
                        Expect(result.dtype == dtype && result.shape.SequenceEqual(new long[] { 3, 4 }) && Same(result, expected),
                            $"got {Text(result)}, expected {Text(expected)}");
                        Expect(Same(local, before), "the input was modified");
                    });
                }
            }
            Check(rank, "AllReduce Sum int64 beyond 2^53", () =>
            {
                using var scope = NewDisposeScope();
                var big = 1L << 50;
                var local = tensor(new[] { big + rank, 3 * big - rank, -big });
                var result = comm.AllReduce(local);
                var expected = tensor(new[] { world * big + world * (world - 1) / 2, world * 3 * big - world * (world - 1) / 2, -world * big });
                Expect(Same(result, expected), $"got {Text(result)}, expected {Text(expected)}");
            });
            Check(rank, "AllReduceInPlace on a non-contiguous view writes the sum back into its storage", () =>
            {
                using var scope = NewDisposeScope();
                var storage = Base() * (rank + 1);
                var view = storage.t();
                comm.AllReduceInPlace(view, ReduceOp.Sum);
                Expect(Same(storage, Base() * sumFactor), $"storage {Text(storage)}");
            });

            // All-gather and barrier.
            Check(rank, "AllGatherBytes with different lengths (rank 0 sends none)", () =>
            {
                var mine = Enumerable.Range(0, rank).Select(i => (byte)(rank * 10 + i)).ToArray();
                var all = comm.AllGatherBytes(mine);
                var ok = all.Length == world && Enumerable.Range(0, world).All(s => all[s].SequenceEqual(Enumerable.Range(0, s).Select(i => (byte)(s * 10 + i))));
                Expect(ok, "got " + string.Join(" | ", all.Select(a => string.Join(",", a))));
            });
            Check(rank, "AllGather(long)", () =>
            {
                var all = comm.AllGather(rank * 1000L + 7);
                Expect(all.SequenceEqual(Enumerable.Range(0, world).Select(s => s * 1000L + 7)), "got " + Program.Join(all));
            });
            Check(rank, "Barrier waits for the last rank (which arrives 400 ms late)", () =>
            {
                comm.Barrier();
                if (rank == world - 1) Thread.Sleep(400);
                var clock = Stopwatch.StartNew();
                comm.Barrier();
                var waited = clock.Elapsed.TotalMilliseconds;
                Expect(rank == world - 1 || waited >= 300, $"waited only {waited:F0} ms");
            });

            // Consistency checks: the last rank differs; every rank must throw the same message naming it.
            var odd = world - 1;
            Check(rank, "CheckSameOnAllRanks passes when the options agree", () => comm.CheckSameOnAllRanks("MoE layer options", "E=8,k=2,capacity=1.25"));
            Check(rank, "CheckSameOnAllRanks names the rank whose options differ", () =>
            {
                var e = Throws<CommunicatorMismatchException>(() => comm.CheckSameOnAllRanks("MoE layer options", rank == odd ? "E=8,k=1" : "E=8,k=2"));
                Expect(e.DifferingRanks.SequenceEqual(new[] { odd }) && e.Message.Contains($"rank {odd}: \"E=8,k=1\"") && e.Message.Contains("\"E=8,k=2\""), e.Message);
                Program.Say(rank, "  message: " + e.Message);
                AllRanksSaw(comm, e.Message);
            });
            Check(rank, "CheckSameOnAllRanks on bytes names the differing rank by hash", () =>
            {
                var e = Throws<CommunicatorMismatchException>(() => comm.CheckSameOnAllRanks("expert shard layout", new byte[] { 1, 2, (byte)(rank == odd ? 4 : 3) }));
                Expect(e.DifferingRanks.SequenceEqual(new[] { odd }) && e.Message.Contains("SHA-256") && e.Message.Contains($"rank {odd}"), e.Message);
                AllRanksSaw(comm, e.Message);
            });
            Check(rank, "AllToAll with a different dtype on one rank is reported by name on every rank", () =>
            {
                using var scope = NewDisposeScope();
                var dtype = rank == odd ? ScalarType.Int64 : ScalarType.Float32;
                var e = Throws<CommunicatorMismatchException>(() => comm.AllToAll(SendRows(rank, world, larger, new long[] { 4 }, dtype), Counts(rank, world, larger)));
                Expect(e.DifferingRanks.SequenceEqual(new[] { odd }) && e.Message.Contains($"rank {odd}: int64 rows [*, 4]") && e.Message.Contains("float32 rows [*, 4]"), e.Message);
                Program.Say(rank, "  message: " + e.Message);
                AllRanksSaw(comm, e.Message);
            });
            Check(rank, "AllToAll with a different row shape on one rank is reported", () =>
            {
                using var scope = NewDisposeScope();
                var e = Throws<CommunicatorMismatchException>(() => comm.AllToAll(SendRows(rank, world, larger, new long[] { rank == odd ? 5 : 4 }, ScalarType.Float32), Counts(rank, world, larger)));
                Expect(e.Message.Contains("[*, 4]") && e.Message.Contains($"rank {odd}: float32 rows [*, 5]"), e.Message);
            });
            Check(rank, "AllToAll with invalid counts on one rank: ArgumentException there, a mismatch naming it elsewhere", () =>
            {
                using var scope = NewDisposeScope();
                var counts = Counts(rank, world, larger);
                if (rank == odd) counts[0] += 1;
                var send = SendRows(rank, world, larger, new long[] { 2 }, ScalarType.Float32);
                if (rank == odd)
                {
                    var e = Throws<ArgumentException>(() => comm.AllToAll(send, counts));
                    Expect(e.Message.Contains("sendCounts sum to") && e.Message.Contains("Every rank was told"), e.Message);
                }
                else
                {
                    var e = Throws<CommunicatorMismatchException>(() => comm.AllToAll(send, counts));
                    Expect(e.Message.Contains($"rank {odd} reported an error: AllToAll: sendCounts sum to"), e.Message);
                }
            });
            Check(rank, "AllReduce with a different dtype on one rank is reported by name", () =>
            {
                using var scope = NewDisposeScope();
                var e = Throws<CommunicatorMismatchException>(() => comm.AllReduce(Base().to_type(rank == odd ? ScalarType.Float64 : ScalarType.Float32)));
                Expect(e.Message.Contains($"rank {odd}: float64 [3, 4], ReduceOp.Sum") && e.Message.Contains("float32 [3, 4], ReduceOp.Sum"), e.Message);
                AllRanksSaw(comm, e.Message);
            });
            Check(rank, "AllReduce with a different op or shape on one rank is reported", () =>
            {
                using var scope = NewDisposeScope();
                var e1 = Throws<CommunicatorMismatchException>(() => comm.AllReduce(Base(), rank == odd ? ReduceOp.Max : ReduceOp.Sum));
                Expect(e1.Message.Contains($"rank {odd}: float32 [3, 4], ReduceOp.Max"), e1.Message);
                var e2 = Throws<CommunicatorMismatchException>(() => comm.AllReduce(rank == odd ? ones(5) : ones(4)));
                Expect(e2.Message.Contains($"rank {odd}: float32 [5], ReduceOp.Sum"), e2.Message);
            });
            if (world == 2)
            {
                // With two ranks both collectives are one exchange with the peer, so the headers meet and the kinds differ.
                // With more ranks, mismatched collectives are undefined in MPI (they end in the timeout).
                Check(rank, "an AllReduce on one rank against an AllToAll on the other is reported as a collective-order mismatch", () =>
                {
                    using var scope = NewDisposeScope();
                    var e = Throws<CommunicatorMismatchException>(() =>
                    {
                        if (rank == odd) comm.AllReduce(Base());
                        else comm.AllToAll(SendRows(rank, world, larger, new long[] { 4 }, ScalarType.Float32), Counts(rank, world, larger));
                    });
                    Expect(e.Message.StartsWith("Collective order: the ranks' arguments do not agree: rank 0: AllToAll of float32 rows [*, 4]; rank 1: AllReduce of float32 [3, 4], ReduceOp.Sum.", StringComparison.Ordinal), e.Message);
                    Program.Say(rank, "  message: " + e.Message);
                });
            }
            Check(rank, "the communicator still works after the mismatches", () =>
            {
                Expect(!comm.IsFaulted, "faulted");
                AllToAllOnce(comm, larger, new long[] { 3 }, ScalarType.Float32, nonContiguous: false, requiresGrad: false);
            });

            Program.Say(rank, $"RESULT passed={_passed} failed={_failed}");
            comm.Dispose();
            Program.Say(rank, "finalized");
            return _failed == 0 ? 0 : 1;
        }

        private static void AllToAllCase(MpiCommunicator comm, string name, Func<int, int, long> counts, long[] trailing, ScalarType dtype,
                                         bool nonContiguous = false, bool requiresGrad = false) =>
            Check(comm.Rank, "AllToAll " + name, () => AllToAllOnce(comm, counts, trailing, dtype, nonContiguous, requiresGrad));

        private static void AllToAllOnce(MpiCommunicator comm, Func<int, int, long> counts, long[] trailing, ScalarType dtype, bool nonContiguous, bool requiresGrad)
        {
            using var scope = NewDisposeScope();
            int rank = comm.Rank, world = comm.WorldSize;
            var send = SendRows(rank, world, counts, trailing, dtype);
            if (nonContiguous)
            {
                send = send.transpose(1, 2).contiguous().transpose(1, 2);
                Expect(!send.is_contiguous(), "the test input should not be contiguous");
            }
            if (requiresGrad) send = send.requires_grad_(true);
            var result = comm.AllToAll(send, Counts(rank, world, counts));
            var expected = cat(Enumerable.Range(0, world).Select(s => Rows(s, rank, counts(s, rank), trailing, dtype)).ToList(), 0);
            var expectedCounts = Enumerable.Range(0, world).Select(s => counts(s, rank)).ToArray();
            Expect(result.ReceiveCounts.SequenceEqual(expectedCounts), $"receive counts [{Program.Join(result.ReceiveCounts)}], expected [{Program.Join(expectedCounts)}]");
            Expect(result.Rows.dtype == dtype && result.Rows.shape.SequenceEqual(expected.shape), $"rows {Name(result.Rows.dtype)} [{Program.Join(result.Rows.shape)}], expected {Name(dtype)} [{Program.Join(expected.shape)}]");
            Expect(Same(result.Rows, expected), $"rows differ: got {Text(result.Rows)}, expected {Text(expected)}");
            Expect(!result.Rows.requires_grad && result.Rows.is_contiguous() && result.Rows.device_type == DeviceType.CPU, "rows should be a plain contiguous CPU tensor");
            for (var s = 0; s < world; s++)
                Expect(Same(result.RowsFrom(s), Rows(s, rank, counts(s, rank), trailing, dtype)), $"RowsFrom({s}) differs");
        }

        /// <summary>The rows rank <paramref name="source"/> sends to every rank, destination after destination.</summary>
        private static Tensor SendRows(int source, int world, Func<int, int, long> counts, long[] trailing, ScalarType dtype) =>
            cat(Enumerable.Range(0, world).Select(d => Rows(source, d, counts(source, d), trailing, dtype)).ToList(), 0);

        private static long[] Counts(int source, int world, Func<int, int, long> counts) => Enumerable.Range(0, world).Select(d => counts(source, d)).ToArray();

        /// <summary>
        /// The rows from <paramref name="source"/> to <paramref name="destination"/>: element e of row j is
        /// s·100000 + d·10000 + j·10 + e, reduced to what the dtype holds exactly (bfloat16: &lt; 256; float16: &lt; 2048),
        /// offset beyond 2^53 for int64, plus 0.25 for float64.
        /// </summary>
        private static Tensor Rows(int source, int destination, long count, long[] trailing, ScalarType dtype)
        {
            var perRow = trailing.Aggregate(1L, (a, b) => a * b);
            var values = new long[count * perRow];
            for (long j = 0; j < count; j++)
            {
                for (long e = 0; e < perRow; e++)
                    values[j * perRow + e] = source * 100000L + destination * 10000L + j * 10 + e;
            }
            var shape = new[] { count }.Concat(trailing).ToArray();
            return dtype switch
            {
                ScalarType.Int64 => tensor(values.Select(v => v + (1L << 54) * (source + 1)).ToArray(), shape),
                ScalarType.BFloat16 => tensor(values.Select(v => (float)(v % 251)).ToArray(), shape).to_type(dtype),
                ScalarType.Float16 => tensor(values.Select(v => (float)(v % 2039)).ToArray(), shape).to_type(dtype),
                ScalarType.Float64 => tensor(values.Select(v => v + 0.25).ToArray(), shape),
                ScalarType.Int32 => tensor(values.Select(v => (int)v).ToArray(), shape),
                _ => tensor(values.Select(v => (float)v).ToArray(), shape).to_type(dtype),
            };
        }

        /// <summary>Same dtype, shape and elements.</summary>
        private static bool Same(Tensor a, Tensor b) =>
            a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && (a.numel() == 0 || a.eq(b).all().item<bool>());

        private static Tensor Base() => arange(1, 13, ScalarType.Float32).reshape(3, 4);

        /// <summary>Every rank saw the same message: their hashes agree.</summary>
        private static void AllRanksSaw(MpiCommunicator comm, string message)
        {
            var all = comm.AllGatherBytes(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(message)));
            Expect(all.All(h => h.SequenceEqual(all[0])), "the ranks' messages differ");
        }

        private static void Check(int rank, string name, Action body)
        {
            try
            {
                body();
                _passed++;
                Program.Say(rank, "PASS " + name);
            }
            catch (Exception e)
            {
                _failed++;
                Program.Say(rank, $"FAIL {name}: {e.GetType().Name}: {e.Message}");
            }
        }

        private static void Expect(bool condition, string message)
        {
            if (!condition) throw new InvalidOperationException(message);
        }

        private static T Throws<T>(Action action) where T : Exception
        {
            try
            {
                action();
            }
            catch (T e) when (e.GetType() == typeof(T))
            {
                return e;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"expected {typeof(T).Name}, got {e.GetType().Name}: {e.Message}");
            }
            throw new InvalidOperationException($"expected {typeof(T).Name}, nothing was thrown");
        }

        private static string Name(ScalarType dtype) => dtype.ToString();

        private static string Text(Tensor t)
        {
            using var scope = NewDisposeScope();
            var flat = t.to_type(ScalarType.Float64).flatten();
            var n = (int)Math.Min(flat.numel(), 16);
            var values = flat.narrow(0, 0, n).data<double>().ToArray();
            return "[" + string.Join(", ", values.Select(v => v.ToString("G", System.Globalization.CultureInfo.InvariantCulture))) + (flat.numel() > n ? ", …]" : "]");
        }
    }
}
