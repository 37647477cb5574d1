using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The kernels as tensor operations: each method checks its inputs, allocates its outputs on the inputs' device and
    /// launches. The same code drives the GPU (<see cref="CudaLauncher"/>) and the CPU accelerator in tests.
    /// </summary>
    internal sealed class FusedKernels
    {
        /// <summary>Creates the kernels on a launcher.</summary>
        /// <param name="launcher">Runs the kernels.</param>
        /// <param name="geometry">Grid and block sizes.</param>
        /// <param name="packRows">Move rows in 16-byte packets where widths and addresses allow (false: one element per
        /// access everywhere; tests compare the two).</param>
        public FusedKernels(IKernelLauncher launcher, LaunchGeometry geometry, bool packRows = true)
        {
            Launcher = launcher;
            Geometry = geometry;
            PackRows = packRows;
        }

        public IKernelLauncher Launcher { get; }

        public LaunchGeometry Geometry { get; }

        /// <summary>Whether rows move in 16-byte packets where they can.</summary>
        public bool PackRows { get; }

        /// <summary>Softmax, top-k and per-block counts of float32 logits [T, E] (no autograd here).</summary>
        public (Tensor Indices, Tensor Weights, Tensor Probabilities, ExpertCounts Counts) SoftmaxTopK(Tensor logits, int topK, TopKSelection selection)
        {
            if (logits.dim() != 2 || logits.dtype != ScalarType.Float32)
                throw new ArgumentException($"logits must be float32 [T, E]; got {logits.dtype} [{string.Join(", ", logits.shape)}].", nameof(logits));
            var (tokens, experts) = (logits.shape[0], (int)logits.shape[1]);
            var partition = Geometry.Partition(tokens, topK, experts);
            var device = logits.device;
            var indices = empty(new[] { tokens, topK }, ScalarType.Int64, device);
            var weights = empty(new[] { tokens, topK }, ScalarType.Float32, device);
            var probabilities = empty(new[] { tokens, (long)experts }, ScalarType.Float32, device);
            var blockCounts = empty((long)experts * partition.Blocks, ScalarType.Int32, device);
            var status = zeros(1, ScalarType.Int32, device);
            Launcher.Launch(KernelCatalog.SoftmaxTopK, partition.Dims,
                logits.contiguous(), indices, weights, probabilities, blockCounts, status, (int)tokens, experts, topK, (int)selection);
            return (indices, weights, probabilities, new ExpertCounts(blockCounts, status, partition));
        }

        /// <summary>
        /// The stable expert-contiguous permutation of the pairs in <paramref name="expertIndices"/> [T, k], with capacity
        /// by position. Reads E + E + 1 ints back to the host (the per-expert counts the expert products need).
        /// </summary>
        /// <param name="expertIndices">int64 [T, k].</param>
        /// <param name="numExperts">E.</param>
        /// <param name="capacity">Rows per expert, or null for dropless.</param>
        /// <param name="counts">Counts the routing kernel already made for these indices, or null.</param>
        public PairPermutation Permute(Tensor expertIndices, int numExperts, long? capacity, ExpertCounts? counts)
        {
            var (tokens, topK) = (expertIndices.shape[0], (int)expertIndices.shape[1]);
            var partition = Geometry.Partition(tokens, topK, numExperts);
            var device = expertIndices.device;
            var flat = expertIndices.contiguous().view(-1);
            var pairs = (int)partition.Pairs;
            Tensor blockCounts, status;
            if (counts is not null && counts.Partition == partition && counts.BlockCounts.shape[0] == (long)numExperts * partition.Blocks)
            {
                blockCounts = counts.BlockCounts.clone(); // the scans work in place
                status = counts.Status;
            }
            else
            {
                blockCounts = empty((long)numExperts * partition.Blocks, ScalarType.Int32, device);
                status = zeros(1, ScalarType.Int32, device);
                Launcher.Launch(KernelCatalog.CountExperts, partition.Dims, flat, blockCounts, status, pairs, numExperts, partition.PairsPerBlock);
            }
            var cap = capacity is { } c ? (int)Math.Min(c, int.MaxValue) : -1;
            var offsets = empty(numExperts, ScalarType.Int32, device);
            var summary = empty(2 * numExperts + 1, ScalarType.Int32, device);
            Launcher.Launch(KernelCatalog.ScanExpertBlocks, Geometry.ExpertScan(numExperts), blockCounts, summary, numExperts, partition.Blocks, cap);
            Launcher.Launch(KernelCatalog.ScanExpertOffsets, Geometry.OffsetScan, summary, offsets, status, numExperts);
            var rowOfPair = empty(pairs, ScalarType.Int32, device);
            var pairOfRow = empty(pairs, ScalarType.Int32, device);
            var assignmentOfRow = empty(pairs, ScalarType.Int64, device);
            Launcher.Launch(KernelCatalog.RankAndScatter, Geometry.Rank(partition),
                flat, blockCounts, offsets, rowOfPair, pairOfRow, assignmentOfRow, pairs, numExperts, topK, partition.PairsPerBlock, cap);

            int[] host;
            using (var cpu = summary.cpu()) host = cpu.data<int>().ToArray();
            if (host[2 * numExperts] != 0)
                throw new ArgumentException($"The routing holds an expert index outside [0, {numExperts}) or came from NaN router logits.", nameof(expertIndices));
            var assigned = host.Take(numExperts).Select(v => (long)v).ToArray();
            var kept = host.Skip(numExperts).Take(numExperts).Select(v => (long)v).ToArray();
            var rows = kept.Sum();
            return new PairPermutation(rowOfPair, pairOfRow.narrow(0, 0, rows), assignmentOfRow.narrow(0, 0, rows), offsets, assigned, kept);
        }

        /// <summary>
        /// The padded layout of a permutation: expert e's rows at [e·C, e·C + kept[e]) of an E·C buffer, C the largest kept
        /// count; padding rows have pair −1 (gathered as zeros, never combined).
        /// </summary>
        /// <param name="permutation">The compact permutation.</param>
        /// <param name="expertIndices">The routing's int64 [T, k] expert ids.</param>
        /// <returns>The padded layout and C.</returns>
        public (PairPermutation Layout, long PaddedCapacity) PadLayout(PairPermutation permutation, Tensor expertIndices)
        {
            var experts = permutation.KeptPerExpert.Length;
            var capacity = Math.Max(1, permutation.KeptPerExpert.Max());
            var (tokens, topK) = (expertIndices.shape[0], (int)expertIndices.shape[1]);
            var pairs = tokens * topK;
            var device = expertIndices.device;
            var rowOfPair = empty(pairs, ScalarType.Int32, device);
            var pairOfRow = full(experts * capacity, -1, ScalarType.Int32, device);
            var assignmentOfRow = zeros(experts * capacity, ScalarType.Int64, device);
            var dims = new LaunchDims((int)Math.Min((pairs + Geometry.MaxThreadsPerBlock - 1) / Geometry.MaxThreadsPerBlock, LaunchGeometry.MaxGridBlocks), Geometry.MaxThreadsPerBlock);
            Launcher.Launch(KernelCatalog.PadLayout, dims, expertIndices.contiguous().view(-1), permutation.RowOfPair, permutation.ExpertOffsets,
                rowOfPair, pairOfRow, assignmentOfRow, (int)pairs, experts, topK, (int)capacity);
            var layout = new PairPermutation(rowOfPair, pairOfRow, assignmentOfRow, permutation.ExpertOffsets,
                permutation.AssignedPerExpert, permutation.KeptPerExpert);
            return (layout, capacity);
        }

        /// <summary>rows[r] = source[pairOfRow[r] / k] → [M, width].</summary>
        public Tensor GatherRows(Tensor source, Tensor pairOfRow, int topK)
        {
            var (numRows, width) = (pairOfRow.shape[0], source.shape[1]);
            source = source.contiguous();
            var rows = empty(new[] { numRows, width }, source.dtype, source.device);
            var set = RowSet(source.dtype, width, source, rows);
            var packets = width / set.PacketElements;
            var launch = Geometry.Rows(numRows, packets);
            Launcher.Launch(set.Gather, launch.Dims, source, pairOfRow, rows, (int)numRows, (int)packets, topK, launch.RowThreads);
            return rows;
        }

        /// <summary>output[t] = Σⱼ w[t, j] · rows[rowOfPair[t·k + j]] (w = 1 when <paramref name="weights"/> is null) → [T, width].</summary>
        public Tensor CombineRows(Tensor rows, Tensor? weights, Tensor rowOfPair, long tokens, int topK)
        {
            var width = rows.shape[1];
            rows = rows.contiguous();
            var output = empty(new[] { tokens, width }, rows.dtype, rows.device);
            var set = RowSet(rows.dtype, width, rows, output);
            var packets = width / set.PacketElements;
            var launch = Geometry.Rows(tokens, packets);
            var scale = weights?.contiguous() ?? ones(1, ScalarType.Float32, rows.device);
            Launcher.Launch(set.Combine, launch.Dims,
                rows, scale, rowOfPair, output, (int)tokens, (int)packets, topK, weights is null ? 0 : 1, launch.RowThreads);
            return output;
        }

        /// <summary>gradRows[r] = w[p] · gradOutput[p / k] with p = pairOfRow[r] → [M, width].</summary>
        public Tensor ScatterScaledRows(Tensor gradOutput, Tensor weights, Tensor pairOfRow, int topK)
        {
            var (numRows, width) = (pairOfRow.shape[0], gradOutput.shape[1]);
            gradOutput = gradOutput.contiguous();
            var gradRows = empty(new[] { numRows, width }, gradOutput.dtype, gradOutput.device);
            var set = RowSet(gradOutput.dtype, width, gradOutput, gradRows);
            var packets = width / set.PacketElements;
            var launch = Geometry.Rows(numRows, packets);
            Launcher.Launch(set.ScatterScaled, launch.Dims,
                gradOutput, weights.contiguous(), pairOfRow, gradRows, (int)numRows, (int)packets, topK, launch.RowThreads);
            return gradRows;
        }

        /// <summary>gradWeights[p] = ⟨gradOutput[p / k], rows[rowOfPair[p]]⟩ (0 when dropped) → float32 [T·k].</summary>
        public Tensor PairDot(Tensor gradOutput, Tensor rows, Tensor rowOfPair, int topK)
        {
            var (pairs, width) = (rowOfPair.shape[0], rows.shape[1]);
            gradOutput = gradOutput.to(rows.dtype).contiguous();
            rows = rows.contiguous();
            var gradWeights = empty(pairs, ScalarType.Float32, rows.device);
            var set = RowSet(rows.dtype, width, gradOutput, rows);
            var packets = width / set.PacketElements;
            var launch = Geometry.Rows(pairs, packets);
            Launcher.Launch(set.PairDot, launch.Dims,
                gradOutput, rows, rowOfPair, gradWeights, (int)pairs, (int)packets, topK, launch.RowThreads);
            return gradWeights;
        }

        /// <summary>
        /// The row kernels for these row tensors: 16-byte packets when <see cref="PackRows"/> is on, the width is a whole
        /// number of packets and every tensor's address is 16-byte aligned (fresh allocations are; views may not be),
        /// otherwise one element per access.
        /// </summary>
        /// <param name="dtype">The rows' dtype.</param>
        /// <param name="width">Row width in elements.</param>
        /// <param name="tensors">The contiguous row tensors of the launch.</param>
        internal RowKernelSet RowSet(ScalarType dtype, long width, params Tensor[] tensors)
        {
            var single = KernelCatalog.Rows(dtype) ?? throw new NotSupportedException($"The fused dispatch moves float32, bfloat16 and float16 rows; got {dtype}.");
            var packed = KernelCatalog.Packed(dtype)!;
            if (!PackRows || width % packed.PacketElements != 0) return single;
            return tensors.All(KernelArgument.IsPacketAligned) ? packed : single;
        }
    }
}
