using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// The ranks of an MPI job (one per process, started by <c>mpirun -np N</c>), through Open MPI's C library bound at
    /// run time (see the package README for why not MPI.NET). Construction initializes MPI (MPI_Init_thread, serialized)
    /// unless the process already did, and duplicates MPI_COMM_WORLD so that these collectives never mix with other MPI
    /// traffic; errors are returned, not fatal. Only one instance may exist per process at a time, and since MPI cannot be
    /// initialized twice, a process that disposed one cannot create another.
    /// </summary>
    /// <remarks>
    /// Every collective is posted nonblocking (MPI_Ialltoall, MPI_Ialltoallv, MPI_Iallreduce, MPI_Iallgather(v),
    /// MPI_Ibarrier) and completed by polling MPI_Test against a deadline (<see cref="Timeout"/>): spinning with
    /// <see cref="Thread.Yield"/> for the first second — as MPI's own blocking calls spin — then sleeping 1 ms between
    /// polls. A rank that never joins (dead, stuck, or in another collective) makes the others throw
    /// <see cref="CommunicatorTimeoutException"/> instead of hanging; the communicator is then faulted and disposing it
    /// aborts the job (see <see cref="MpiCommunicatorOptions.AbortOnFaultedDispose"/>).
    /// </remarks>
    public sealed unsafe class MpiCommunicator : ICommunicator
    {
        private const int AllToAllHeader = 6;   // per destination: row count, dtype code, row bytes, row-shape hash, status, kind
        private const int AllReduceHeader = 6;  // per rank: dtype code, element count, shape hash, op, status, kind
        // The kind of collective, so that ranks calling different collectives at the same point are told so.
        private const long KindAllToAll = 0x4D6F65_0A2A;
        private const long KindAllReduce = 0x4D6F65_0A11;
        private const int MaxChunkElements = 1 << 30;
        private static readonly TimeSpan SpinPhase = TimeSpan.FromSeconds(1);
        private const string Separator = "\u001f";
        private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(500);

        private static readonly object WorldGate = new();
        private static MpiCommunicator? _live;
        private static bool _finalized;
        private static string? _unusable;
        // Buffers (tensors and native blocks) that an abandoned collective may still read or write: never freed.
        private static readonly List<object> Abandoned = new();
        private static readonly IntPtr Scratch = (IntPtr)NativeMemory.AllocZeroed(64);

        private readonly OpenMpiLibrary _mpi;
        private readonly object _gate = new();
        private readonly bool _ownsMpi;
        private readonly bool _abortOnFaultedDispose;
        private readonly int _threadLevel;
        private readonly int _initThread;
        private IntPtr _comm;
        private long _collectives;
        private string? _fault;
        private bool _disposed;

        /// <summary>Joins the MPI job: initializes MPI if needed and duplicates MPI_COMM_WORLD (a collective, within the timeout).</summary>
        /// <param name="options">Library path, timeout and abort behaviour; null: defaults and environment variables.</param>
        /// <exception cref="MpiNotAvailableException">Open MPI cannot be loaded; the message says what to install.</exception>
        /// <exception cref="InvalidOperationException">Another instance is alive in this process, or MPI was already finalized.</exception>
        public MpiCommunicator(MpiCommunicatorOptions? options = null)
        {
            options ??= new MpiCommunicatorOptions();
            Timeout = options.ResolveTimeout();
            var connectTimeout = options.ConnectTimeout ?? Timeout;
            if (connectTimeout <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(options), connectTimeout, "MpiCommunicatorOptions.ConnectTimeout must be positive.");
            _abortOnFaultedDispose = options.AbortOnFaultedDispose;
            lock (WorldGate)
            {
                if (_live != null)
                    throw new InvalidOperationException("An MpiCommunicator already exists in this process; share it (MPI_COMM_WORLD has one member per process).");
                if (_finalized)
                    throw new InvalidOperationException("MPI was finalized when this process's MpiCommunicator was disposed, and MPI cannot be initialized twice: " +
                                                        "keep one MpiCommunicator for the life of the process.");
                if (_unusable != null)
                    throw new InvalidOperationException($"MPI is unusable in this process since an earlier MpiCommunicator failed to start: {_unusable}");
                _mpi = OpenMpiLibrary.Load(options.LibraryPath);
                int flag;
                Check(_mpi.Finalized(&flag), "MPI_Finalized", "construction");
                if (flag != 0) throw new InvalidOperationException("MPI was already finalized in this process; it cannot be initialized again.");
                Check(_mpi.Initialized(&flag), "MPI_Initialized", "construction");
                int provided;
                if (flag == 0)
                {
                    using (InitWatchdog.Start(connectTimeout))
                        Check(_mpi.InitThread(null, null, OpenMpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread", "construction");
                    _ownsMpi = true;
                }
                else
                {
                    Check(_mpi.QueryThread(&provided), "MPI_Query_thread", "construction");
                }
                _threadLevel = provided;
                _initThread = Environment.CurrentManagedThreadId;
                Check(_mpi.CommSetErrhandler(_mpi.CommWorld, _mpi.ErrorsReturn), "MPI_Comm_set_errhandler", "construction");
                int rank, size;
                Check(_mpi.CommRank(_mpi.CommWorld, &rank), "MPI_Comm_rank", "construction");
                Check(_mpi.CommSize(_mpi.CommWorld, &size), "MPI_Comm_size", "construction");
                Rank = rank;
                WorldSize = size;
                LibraryVersion = _mpi.Version();

                try
                {
                    // The duplicate's handle is written when the request completes: it lives in the call's native memory,
                    // which is kept forever if the handshake times out.
                    var clock = Stopwatch.StartNew();
                    using var call = new Call();
                    var comm = (IntPtr*)call.Alloc(sizeof(IntPtr));
                    IntPtr request;
                    Check(_mpi.CommIdup(_mpi.CommWorld, comm, &request), "MPI_Comm_idup", "construction");
                    Wait(&request, "construction (MPI_Comm_idup of MPI_COMM_WORLD)", clock, call, connectTimeout);
                    _comm = *comm;
                    Check(_mpi.CommSetErrhandler(_comm, _mpi.ErrorsReturn), "MPI_Comm_set_errhandler", "construction");
                }
                catch (Exception e) when (e is CommunicatorTimeoutException or MpiException)
                {
                    _unusable = e.Message;
                    throw;
                }
                _live = this;
            }
        }

        /// <summary>This process's rank in MPI_COMM_WORLD.</summary>
        public int Rank { get; }

        /// <summary>The number of processes in MPI_COMM_WORLD.</summary>
        public int WorldSize { get; }

        /// <summary>The longest one collective may take on this rank before it throws <see cref="CommunicatorTimeoutException"/>.</summary>
        public TimeSpan Timeout { get; }

        /// <summary>The libmpi that was loaded (a name the loader resolved, or the configured path).</summary>
        public string LibraryPath => _mpi.Path;

        /// <summary>MPI_Get_library_version's first line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".</summary>
        public string LibraryVersion { get; }

        /// <summary>Whether a collective timed out or failed, leaving the communicator unusable.</summary>
        public bool IsFaulted => Volatile.Read(ref _fault) != null;

        /// <inheritdoc />
        public CommunicationStatistics Statistics { get; } = new();

        /// <summary>
        /// Whether this process looks started by an MPI launcher (mpirun/mpiexec/srun set OMPI_COMM_WORLD_SIZE, PMIX_RANK
        /// or PMI_RANK). Without one, Open MPI starts a world of one rank (singleton).
        /// </summary>
        public static bool IsLaunchedByMpi =>
            Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") != null
            || Environment.GetEnvironmentVariable("PMIX_RANK") != null
            || Environment.GetEnvironmentVariable("PMI_RANK") != null;

        /// <inheritdoc />
        public AllToAllResult AllToAll(Tensor send, ReadOnlySpan<long> sendCounts)
        {
            lock (_gate)
            {
                var clock = BeginCollective();
                var operation = Describe("AllToAll");
                var error = Arguments.AllToAll(send, sendCounts, WorldSize);
                using var scope = NewDisposeScope();
                using var call = new Call();
                Tensor? sendCpu = null;
                long rowBytes = 0;
                long[] trailing = Array.Empty<long>();
                if (error == null)
                {
                    sendCpu = TensorPayload.ContiguousCpu(send);
                    trailing = sendCpu.shape[1..];
                    rowBytes = sendCpu.element_size();
                    foreach (var d in trailing) rowBytes = checked(rowBytes * d);
                    if (rowBytes > int.MaxValue) error = $"AllToAll: a row holds {rowBytes} bytes; at most {int.MaxValue} are supported (MPI counts are 32-bit).";
                    else if (sendCpu.shape[0] > int.MaxValue) error = $"AllToAll: {sendCpu.shape[0]} rows; at most {int.MaxValue} per call are supported (MPI counts are 32-bit).";
                }
                var report = error ?? $"{TensorPayload.DtypeName(sendCpu!.dtype)} rows {TensorPayload.ShapeText(trailing, rows: true)}";

                // 1. Counts, with dtype, row size and row shape, to every rank.
                var header = (long*)call.Alloc(sizeof(long) * AllToAllHeader * WorldSize);
                var received = (long*)call.Alloc(sizeof(long) * AllToAllHeader * WorldSize);
                for (var destination = 0; destination < WorldSize; destination++)
                {
                    var h = header + destination * AllToAllHeader;
                    h[0] = error == null ? sendCounts[destination] : 0;
                    h[1] = error == null ? (long)sendCpu!.dtype : -1;
                    h[2] = rowBytes;
                    h[3] = TensorPayload.ShapeHash(trailing);
                    h[4] = error == null ? 0 : 1;
                    h[5] = KindAllToAll;
                }
                IntPtr request;
                Check(_mpi.Ialltoall(header, AllToAllHeader, _mpi.Int64, received, AllToAllHeader, _mpi.Int64, _comm, &request), "MPI_Ialltoall", operation);
                Wait(&request, operation + " (count exchange)", clock, call);

                var agree = true;
                for (var source = 0; source < WorldSize; source++)
                {
                    var h = received + source * AllToAllHeader;
                    if (h[4] != 0 || h[5] != KindAllToAll || h[1] != received[1] || h[2] != received[2] || h[3] != received[3]) agree = false;
                }
                if (!agree)
                    ThrowDisagreement("AllToAll", operation, report, error, clock, call,
                        "Every rank must send rows of the same dtype and trailing shape, with one count per rank.");

                // 2. The rows, as MPI datatype "rowBytes contiguous bytes", so that counts and displacements are in rows.
                var counts = (int*)call.Alloc(sizeof(int) * 4 * WorldSize);
                int* sendCountsInt = counts, sendDispl = counts + WorldSize, receiveCountsInt = counts + 2 * WorldSize, receiveDispl = counts + 3 * WorldSize;
                var receiveCounts = new long[WorldSize];
                long sendOffset = 0, receiveOffset = 0;
                for (var r = 0; r < WorldSize; r++)
                {
                    receiveCounts[r] = received[r * AllToAllHeader];
                    sendCountsInt[r] = (int)sendCounts[r];
                    sendDispl[r] = (int)sendOffset;
                    receiveCountsInt[r] = (int)receiveCounts[r];
                    receiveDispl[r] = (int)receiveOffset;
                    sendOffset += sendCounts[r];
                    receiveOffset += receiveCounts[r];
                }
                if (receiveOffset > int.MaxValue)
                {
                    // Only this rank knows; the others go on to the row exchange and will time out.
                    Volatile.Write(ref _fault, $"{operation} would receive {receiveOffset} rows, more than MPI's 32-bit counts allow");
                    throw new NotSupportedException($"{operation}: this rank would receive {receiveOffset} rows; at most {int.MaxValue} per call are supported (MPI counts are 32-bit). " +
                                                    "The communicator is now unusable.");
                }
                var shape = new long[trailing.Length + 1];
                shape[0] = receiveOffset;
                trailing.CopyTo(shape, 1);
                var rows = empty(shape, sendCpu!.dtype);
                call.Keep(sendCpu);
                call.Keep(rows);
                if (rowBytes > 0 && (sendOffset > 0 || receiveOffset > 0))
                {
                    var rowType = call.RowType(_mpi, (int)rowBytes, operation, this);
                    var sendBuffer = sendOffset > 0 ? TensorPayload.Address(sendCpu) : Scratch;
                    var receiveBuffer = receiveOffset > 0 ? TensorPayload.Address(rows) : Scratch;
                    Check(_mpi.Ialltoallv((void*)sendBuffer, sendCountsInt, sendDispl, rowType, (void*)receiveBuffer, receiveCountsInt, receiveDispl, rowType, _comm, &request),
                        "MPI_Ialltoallv", operation);
                    Wait(&request, operation + " (row exchange)", clock, call);
                }
                Statistics.AddAllToAll(sendOffset * rowBytes, receiveOffset * rowBytes, clock.Elapsed);
                return new AllToAllResult(rows.MoveToOuterDisposeScope(), receiveCounts);
            }
        }

        /// <inheritdoc />
        public Tensor AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            lock (_gate)
            {
                using var scope = NewDisposeScope();
                return AllReduceCore(tensor, op, "AllReduce").MoveToOuterDisposeScope();
            }
        }

        /// <inheritdoc />
        public void AllReduceInPlace(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            lock (_gate)
            {
                using var scope = NewDisposeScope();
                var result = AllReduceCore(tensor, op, "AllReduceInPlace");
                using (no_grad()) tensor.copy_(result);
            }
        }

        /// <inheritdoc />
        public byte[][] AllGatherBytes(ReadOnlySpan<byte> data)
        {
            lock (_gate)
            {
                var clock = BeginCollective();
                using var call = new Call();
                var result = AllGatherBytesCore(data, Describe("AllGatherBytes"), clock, call);
                Statistics.AddOther(clock.Elapsed);
                return result;
            }
        }

        /// <inheritdoc />
        public void Barrier()
        {
            lock (_gate)
            {
                var clock = BeginCollective();
                var operation = Describe("Barrier");
                using var call = new Call();
                IntPtr request;
                Check(_mpi.Ibarrier(_comm, &request), "MPI_Ibarrier", operation);
                Wait(&request, operation, clock, call);
                Statistics.AddOther(clock.Elapsed);
            }
        }

        /// <summary>
        /// Leaves the job, collectively: a barrier with the timeout (MPI_Finalize itself waits for every rank without
        /// one), then frees the duplicated communicator and, when this instance initialized MPI, calls MPI_Finalize. A
        /// faulted communicator — or a barrier that times out — instead aborts the job (MPI_Abort, error code 1) after
        /// writing why to standard error, unless <see cref="MpiCommunicatorOptions.AbortOnFaultedDispose"/> is false.
        /// </summary>
        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed) return;
                if (_fault == null)
                {
                    // MPI_Finalize waits for every rank without a deadline: meet them in a barrier that has one first.
                    try
                    {
                        _collectives++;
                        var clock = Stopwatch.StartNew();
                        using var call = new Call();
                        IntPtr request;
                        var operation = Describe("Dispose (barrier before MPI_Finalize)");
                        Check(_mpi.Ibarrier(_comm, &request), "MPI_Ibarrier", operation);
                        Wait(&request, operation, clock, call);
                    }
                    catch (Exception e) when (e is CommunicatorTimeoutException or MpiException)
                    {
                        // _fault is set: abort below rather than hang in MPI_Finalize.
                    }
                }
                _disposed = true;
                lock (WorldGate)
                {
                    if (_live == this) _live = null;
                    if (_fault != null)
                    {
                        // MPI_Finalize would wait for the abandoned collective forever; MPI is unusable in this process.
                        _finalized = true;
                        if (_abortOnFaultedDispose)
                        {
                            Console.Out.Flush();
                            Console.Error.WriteLine($"MoeLayers.Distributed: rank {Rank} of {WorldSize} aborts the MPI job (MPI_Abort, error code 1) because its communicator is faulted: {_fault}");
                            Console.Error.Flush();
                            // mpirun forwards the ranks' output asynchronously and stops when the job is aborted: give it
                            // a moment to pass the reason on.
                            Thread.Sleep(AbortGrace);
                            _mpi.Abort(_comm, 1);
                        }
                        return;
                    }
                    var comm = _comm;
                    _comm = IntPtr.Zero;
                    _mpi.CommFree(&comm);
                    if (_ownsMpi)
                    {
                        _finalized = true;
                        _mpi.FinalizeMpi();
                    }
                }
            }
        }

        private Tensor AllReduceCore(Tensor tensor, ReduceOp op, string name)
        {
            var clock = BeginCollective();
            var operation = Describe(name);
            var error = Arguments.AllReduce(tensor, op);
            using var call = new Call();
            Tensor? input = null;
            long[] shape = Array.Empty<long>();
            if (error == null)
            {
                input = TensorPayload.ContiguousCpu(tensor);
                shape = input.shape;
            }
            var report = error ?? $"{TensorPayload.DtypeName(input!.dtype)} {TensorPayload.ShapeText(shape, rows: false)}, ReduceOp.{op}";

            var header = (long*)call.Alloc(sizeof(long) * AllReduceHeader);
            var received = (long*)call.Alloc(sizeof(long) * AllReduceHeader * WorldSize);
            header[0] = error == null ? (long)input!.dtype : -1;
            header[1] = error == null ? input!.numel() : 0;
            header[2] = TensorPayload.ShapeHash(shape);
            header[3] = (long)op;
            header[4] = error == null ? 0 : 1;
            header[5] = KindAllReduce;
            IntPtr request;
            Check(_mpi.Iallgather(header, AllReduceHeader, _mpi.Int64, received, AllReduceHeader, _mpi.Int64, _comm, &request), "MPI_Iallgather", operation);
            Wait(&request, operation + " (dtype and shape check)", clock, call);
            var agree = true;
            for (var r = 0; r < WorldSize; r++)
            {
                for (var k = 0; k < AllReduceHeader; k++)
                {
                    if (received[r * AllReduceHeader + k] != header[k]) agree = false;
                }
            }
            if (!agree)
                ThrowDisagreement("AllReduce", operation, report, error, clock, call,
                    "Every rank must pass a tensor of the same dtype and shape, and the same ReduceOp.");

            var dtype = input!.dtype;
            var widened = dtype is ScalarType.Float16 or ScalarType.BFloat16;
            var send = widened ? input.to_type(ScalarType.Float32) : input;
            var receive = empty_like(send);
            call.Keep(send);
            call.Keep(receive);
            var (mpiType, elementSize) = ReductionType(send.dtype);
            var mpiOp = op switch { ReduceOp.Max => _mpi.OpMax, ReduceOp.Min => _mpi.OpMin, _ => _mpi.OpSum };
            var total = send.numel();
            if (total > 0)
            {
                var sendAddress = TensorPayload.Address(send);
                var receiveAddress = TensorPayload.Address(receive);
                for (long start = 0; start < total; start += MaxChunkElements)
                {
                    var count = (int)Math.Min(MaxChunkElements, total - start);
                    Check(_mpi.Iallreduce((void*)(sendAddress + (nint)(start * elementSize)), (void*)(receiveAddress + (nint)(start * elementSize)), count,
                        mpiType, mpiOp, _comm, &request), "MPI_Iallreduce", operation);
                    Wait(&request, operation, clock, call);
                }
            }
            Statistics.AddAllReduce(total * input.element_size(), clock.Elapsed);
            return widened ? receive.to_type(dtype) : receive;
        }

        private byte[][] AllGatherBytesCore(ReadOnlySpan<byte> data, string operation, Stopwatch clock, Call call)
        {
            var length = (long*)call.Alloc(sizeof(long));
            var lengths = (long*)call.Alloc(sizeof(long) * WorldSize);
            *length = data.Length;
            IntPtr request;
            Check(_mpi.Iallgather(length, 1, _mpi.Int64, lengths, 1, _mpi.Int64, _comm, &request), "MPI_Iallgather", operation);
            Wait(&request, operation + " (lengths)", clock, call);
            long total = 0;
            for (var r = 0; r < WorldSize; r++) total += lengths[r];
            if (total > int.MaxValue)
                throw new CommunicatorMismatchException("AllGatherBytes", $"{operation}: the ranks' arrays hold {total} bytes together; at most {int.MaxValue} are supported.", Array.Empty<int>());

            var counts = (int*)call.Alloc(sizeof(int) * 2 * WorldSize);
            var displacements = counts + WorldSize;
            var offset = 0;
            for (var r = 0; r < WorldSize; r++)
            {
                counts[r] = (int)lengths[r];
                displacements[r] = offset;
                offset += counts[r];
            }
            var send = (byte*)call.Alloc(Math.Max(1, data.Length));
            data.CopyTo(new Span<byte>(send, data.Length));
            var receive = (byte*)call.Alloc(Math.Max(1, offset));
            Check(_mpi.Iallgatherv(send, data.Length, _mpi.Byte, receive, counts, displacements, _mpi.Byte, _comm, &request), "MPI_Iallgatherv", operation);
            Wait(&request, operation, clock, call);
            var result = new byte[WorldSize][];
            for (var r = 0; r < WorldSize; r++) result[r] = new ReadOnlySpan<byte>(receive + displacements[r], counts[r]).ToArray();
            return result;
        }

        // Every rank holds the same headers, so every rank gets here together: gather each rank's own description of its
        // arguments (or its error) and throw the same message everywhere. A rank whose own arguments were invalid throws
        // ArgumentException; the others, CommunicatorMismatchException.
        private void ThrowDisagreement(string name, string operation, string report, string? error, Stopwatch clock, Call call, string rule)
        {
            var mine = (error == null ? "0" : "1") + name + Separator + report;
            var reports = AllGatherBytesCore(Encoding.UTF8.GetBytes(mine), operation + " (reporting a mismatch)", clock, call);
            var names = new string[WorldSize];
            var texts = new string[WorldSize];
            var invalid = new bool[WorldSize];
            for (var r = 0; r < WorldSize; r++)
            {
                var text = Encoding.UTF8.GetString(reports[r]);
                var cut = text.IndexOf(Separator, StringComparison.Ordinal);
                invalid[r] = text.StartsWith('1');
                names[r] = cut > 0 ? text.Substring(1, cut - 1) : "?";
                texts[r] = cut >= 0 ? text.Substring(cut + 1) : text;
            }
            CommunicatorMismatchException? mismatch;
            if (Array.TrueForAll(names, n => n == name))
            {
                mismatch = Agreement.Compare(name, texts, invalid, rule);
            }
            else
            {
                for (var r = 0; r < WorldSize; r++) texts[r] = names[r] + " of " + texts[r];
                mismatch = Agreement.Compare("Collective order", texts, invalid, "Every rank must call the same collectives in the same order.");
            }
            mismatch ??= new CommunicatorMismatchException(name, $"{operation}: the ranks' headers differ but their descriptions agree: {report}. {rule}", Array.Empty<int>());
            if (error != null) throw new ArgumentException(error + " Every rank was told: " + mismatch.Message);
            throw mismatch;
        }

        private (IntPtr Type, long ElementSize) ReductionType(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => (_mpi.Float, 4),
            ScalarType.Float64 => (_mpi.Double, 8),
            ScalarType.Int64 => (_mpi.Int64, 8),
            ScalarType.Int32 => (_mpi.Int32, 4),
            ScalarType.Int16 => (_mpi.Int16, 2),
            ScalarType.Int8 => (_mpi.Int8, 1),
            ScalarType.Byte => (_mpi.UInt8, 1),
            _ => throw new NotSupportedException($"AllReduce: no MPI type for {TensorPayload.DtypeName(dtype)}."),
        };

        private Stopwatch BeginCollective()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(MpiCommunicator));
            var fault = Volatile.Read(ref _fault);
            if (fault != null) throw new InvalidOperationException($"This MpiCommunicator is faulted and cannot be used: {fault}");
            if (_threadLevel < OpenMpiLibrary.ThreadSerialized && Environment.CurrentManagedThreadId != _initThread)
                throw new InvalidOperationException($"MPI was initialized with thread level {_threadLevel} (below MPI_THREAD_SERIALIZED): call collectives from the thread that initialized it.");
            _collectives++;
            return Stopwatch.StartNew();
        }

        private string Describe(string name) => string.Create(CultureInfo.InvariantCulture, $"{name} #{_collectives}");

        private void Wait(IntPtr* request, string operation, Stopwatch clock, Call? call, TimeSpan? limit = null)
        {
            var timeout = limit ?? Timeout;
            while (true)
            {
                int done;
                var code = _mpi.Test(request, &done, null);
                if (code != OpenMpiLibrary.Success)
                {
                    call?.Abandon();
                    throw Fail("MPI_Test", code, operation);
                }
                if (done != 0) return;
                var elapsed = clock.Elapsed;
                if (elapsed >= timeout)
                {
                    call?.Abandon();
                    var seconds = timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
                    var message =
                        $"MPI rank {Rank} of {WorldSize}: {operation} did not complete within {seconds} s (#n counts this communicator's collectives): at least one other rank never joined it. " +
                        "It exited or crashed (mpirun normally ends the whole job when a rank dies; this rank outlived it), or it is stuck, or it is in a different " +
                        "collective (every rank must call the same collectives in the same order). The communicator is now unusable (MPI cannot cancel a collective); " +
                        "disposing it ends the job with MPI_Abort. If a rank is legitimately slower, raise " +
                        (limit is null ? $"MpiCommunicatorOptions.Timeout or {MpiCommunicatorOptions.TimeoutVariable}." : "MpiCommunicatorOptions.ConnectTimeout.");
                    Volatile.Write(ref _fault, $"{operation} timed out after {seconds} s");
                    throw new CommunicatorTimeoutException(operation, Rank, WorldSize, timeout, message);
                }
                if (elapsed < SpinPhase) Thread.Yield();
                else Thread.Sleep(1);
            }
        }

        private void Check(int code, string function, string operation)
        {
            if (code != OpenMpiLibrary.Success) throw Fail(function, code, operation);
        }

        private MpiException Fail(string function, int code, string operation)
        {
            var text = _mpi.DescribeError(code);
            var fault = $"{function} returned error {code} ({text}) during {operation}";
            Volatile.Write(ref _fault, fault);
            return new MpiException(function, code,
                $"MPI rank {Rank} of {WorldSize}: {fault}. A peer rank may have exited or the network failed; the communicator is now unusable.");
        }

        /// <summary>
        /// MPI_Init waits, without a deadline, until every rank of the job has called it (Open MPI's start-up exchange),
        /// and MPI cannot be left half-initialized: past the connect timeout this thread writes why and ends the process
        /// (<see cref="Environment.FailFast(string)"/>), and mpirun then ends the job, instead of a silent hang.
        /// </summary>
        private sealed class InitWatchdog : IDisposable
        {
            private readonly ManualResetEventSlim _done = new();

            public static InitWatchdog Start(TimeSpan limit)
            {
                var watchdog = new InitWatchdog();
                var thread = new Thread(() => watchdog.Watch(limit)) { IsBackground = true, Name = "MPI_Init watchdog" };
                thread.Start();
                return watchdog;
            }

            public void Dispose() => _done.Set();

            private void Watch(TimeSpan limit)
            {
                if (_done.Wait(limit)) return;
                var rank = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") ?? "?";
                var size = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") ?? "?";
                var seconds = limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
                var message = $"MoeLayers.Distributed: MPI_Init did not return within {seconds} s (MpiCommunicatorOptions.ConnectTimeout, else Timeout) on rank {rank} of {size}: " +
                              "Open MPI's start-up waits for every rank of the job, and at least one has not called MPI_Init (it is still starting, stuck before " +
                              "creating its MpiCommunicator, or failed to start). MPI cannot be left half-initialized, so this process ends now (Environment.FailFast) " +
                              "and mpirun ends the job. Create the communicator early in every rank, or raise ConnectTimeout.";
                Console.Error.WriteLine(message);
                Console.Error.Flush();
                Thread.Sleep(AbortGrace);
                Environment.FailFast(message);
            }
        }

        /// <summary>
        /// Resources of one collective call: native blocks, tensors and MPI datatypes the posted requests use. Freed when
        /// the call ends, unless a request was abandoned (timeout or error), in which case MPI may still touch them and
        /// they are kept forever.
        /// </summary>
        private sealed class Call : IDisposable
        {
            private readonly List<IntPtr> _blocks = new();
            private readonly List<Tensor> _tensors = new();
            private readonly List<IntPtr> _types = new();
            private OpenMpiLibrary? _mpi;
            private bool _abandoned;

            public IntPtr Alloc(long bytes)
            {
                var block = (IntPtr)NativeMemory.AllocZeroed((nuint)Math.Max(1, bytes));
                _blocks.Add(block);
                return block;
            }

            public void Keep(Tensor tensor) => _tensors.Add(tensor);

            public IntPtr RowType(OpenMpiLibrary mpi, int rowBytes, string operation, MpiCommunicator owner)
            {
                _mpi = mpi;
                IntPtr type;
                owner.Check(mpi.TypeContiguous(rowBytes, mpi.Byte, &type), "MPI_Type_contiguous", operation);
                _types.Add(type);
                owner.Check(mpi.TypeCommit(&type), "MPI_Type_commit", operation);
                _types[^1] = type;
                return type;
            }

            public void Abandon()
            {
                if (_abandoned) return;
                _abandoned = true;
                lock (Abandoned)
                {
                    foreach (var tensor in _tensors) Abandoned.Add(tensor.DetachFromDisposeScope());
                    Abandoned.Add(_blocks.ToArray());
                }
            }

            public void Dispose()
            {
                if (_abandoned) return;
                foreach (var block in _blocks) NativeMemory.Free((void*)block);
                _blocks.Clear();
                if (_mpi != null)
                {
                    foreach (var t in _types)
                    {
                        var type = t;
                        _mpi.TypeFree(&type);
                    }
                }
                _types.Clear();
            }
        }
    }
}
