using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Expert-contiguous rows in groups of counts[e] laid out as a zero-padded buffer [E, C, ·], C the largest group: row
    /// i of group e goes to slot e·C + i. One value per call of <see cref="GroupedProducts.PaddedBatch"/>, made from the
    /// counts; the slots are one index tensor, so padding and unpadding are one index_copy and one index_select, and only
    /// the padding slots are zeroed, where a product needs them zero.
    /// </summary>
    internal sealed class GroupPadding
    {
        private readonly long[] _slots;
        private readonly long[] _paddingSlots;

        private GroupPadding(long experts, long capacity, long[] slots, long[] paddingSlots) =>
            (Experts, Capacity, _slots, _paddingSlots) = (experts, capacity, slots, paddingSlots);

        /// <summary>E.</summary>
        public long Experts { get; }

        /// <summary>C: the largest group.</summary>
        public long Capacity { get; }

        /// <summary>The layout of groups of <paramref name="counts"/> rows.</summary>
        /// <param name="counts">Rows per expert.</param>
        public static GroupPadding Of(long[] counts)
        {
            var capacity = counts.Length == 0 ? 0 : counts.Max();
            var rows = counts.Sum();
            var (slots, paddingSlots) = (new long[rows], new long[counts.Length * capacity - rows]);
            var (row, pad) = (0, 0);
            for (var e = 0; e < counts.Length; e++)
            {
                for (var i = 0L; i < capacity; i++)
                {
                    if (i < counts[e]) slots[row++] = e * capacity + i;
                    else paddingSlots[pad++] = e * capacity + i;
                }
            }
            return new GroupPadding(counts.Length, capacity, slots, paddingSlots);
        }

        /// <summary>
        /// Rows [M, w] → a buffer [E, C, w] whose padding rows are zeros (<paramref name="zeroPadding"/>: a weight gradient
        /// sums over them) or unset (a product whose padding outputs are never read: each output row reads only its own row).
        /// </summary>
        /// <param name="rows">Expert-contiguous rows.</param>
        /// <param name="zeroPadding">Whether the padding rows must be zeros.</param>
        public Tensor Pad(Tensor rows, bool zeroPadding)
        {
            var width = rows.shape[1];
            var padded = empty(new[] { Experts * Capacity, width }, rows.dtype, rows.device);
            using (var slots = Index(_slots, rows.device)) padded.index_copy_(0, slots, rows);
            if (zeroPadding && _paddingSlots.Length > 0)
            {
                using var paddingSlots = Index(_paddingSlots, rows.device);
                padded.index_fill_(0, paddingSlots, 0);
            }
            return padded.view(Experts, Capacity, width);
        }

        /// <summary>A buffer [E, C, w] → its real rows [M, w], in expert order.</summary>
        /// <param name="padded">The padded buffer.</param>
        public Tensor Unpad(Tensor padded)
        {
            using var slots = Index(_slots, padded.device);
            return padded.reshape(Experts * Capacity, padded.shape[2]).index_select(0, slots);
        }

        private static Tensor Index(long[] positions, Device device)
        {
            var host = tensor(positions);
            if (device.type == DeviceType.CPU) return host;
            using (host) return host.to(device);
        }
    }
}
