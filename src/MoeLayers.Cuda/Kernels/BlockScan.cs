using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>Block-wide scans for single-block kernels; every thread of the block must call them.</summary>
    internal static class BlockScan
    {
        /// <summary>
        /// Replaces data[0..length) by its exclusive prefix sum and returns the total, tile by tile (blockDim elements
        /// per tile, Hillis–Steele inside the tile, a carry between tiles). blockDim must be a power of two.
        /// </summary>
        /// <param name="data">Values to scan in place (global memory).</param>
        /// <param name="length">Number of elements.</param>
        /// <param name="tile">Shared scratch of at least blockDim elements.</param>
        /// <param name="carry">Shared scratch of one element.</param>
        public static int ExclusiveInPlace(ArrayView<int> data, long length, ArrayView<int> tile, ArrayView<int> carry)
        {
            var tid = Group.IdxX;
            if (tid == 0) carry[0] = 0;
            Group.Barrier();
            for (long start = 0; start < length; start += Group.DimX)
            {
                var i = start + tid;
                var value = i < length ? data[i] : 0;
                tile[tid] = value;
                Group.Barrier();
                for (var offset = 1; offset < Group.DimX; offset <<= 1)
                {
                    var left = tid >= offset ? tile[tid - offset] : 0;
                    Group.Barrier();
                    tile[tid] += left;
                    Group.Barrier();
                }
                var before = carry[0];
                if (i < length) data[i] = before + tile[tid] - value;
                Group.Barrier();
                if (tid == Group.DimX - 1) carry[0] = before + tile[tid];
                Group.Barrier();
            }
            return carry[0];
        }
    }
}
