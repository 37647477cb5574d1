using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>Block-wide scans; every thread of the block must call them, with the same arguments.</summary>
    internal static class BlockScan
    {
        /// <summary>
        /// Replaces data[start .. start + length) by its exclusive prefix sum and returns the total. Work-efficient
        /// (raking): each thread sums one contiguous segment of ⌈length / blockDim⌉ elements, a Hillis–Steele scan over the
        /// blockDim segment sums (log₂ blockDim steps in shared memory) gives each segment its offset, and each thread
        /// rewrites its segment. O(length) work, O(length / blockDim + log blockDim) steps; any block size.
        /// </summary>
        /// <param name="data">Values to scan in place (global memory).</param>
        /// <param name="start">First element.</param>
        /// <param name="length">Number of elements.</param>
        /// <param name="tile">Shared scratch of at least blockDim elements.</param>
        public static int ExclusiveInPlace(ArrayView<int> data, long start, long length, ArrayView<int> tile)
        {
            var tid = Group.IdxX;
            var threads = Group.DimX;
            var perThread = (length + threads - 1) / threads;
            var begin = tid * perThread;
            if (begin > length) begin = length;
            var end = begin + perThread;
            if (end > length) end = length;

            var sum = 0;
            for (var i = begin; i < end; i++) sum += data[start + i];
            tile[tid] = sum;
            Group.Barrier();
            for (var offset = 1; offset < threads; offset <<= 1)
            {
                var left = tid >= offset ? tile[tid - offset] : 0;
                Group.Barrier();
                tile[tid] += left;
                Group.Barrier();
            }
            var running = tile[tid] - sum;
            var total = tile[threads - 1];
            for (var i = begin; i < end; i++)
            {
                var value = data[start + i];
                data[start + i] = running;
                running += value;
            }
            // Nobody may overwrite the tile (a next scan) before every thread has read its offset and the total.
            Group.Barrier();
            return total;
        }
    }
}
