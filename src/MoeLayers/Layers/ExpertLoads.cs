using System;
using System.Collections.Generic;

namespace MoeLayers
{
    /// <summary>
    /// The (token, slot) pairs routed to each expert by a layer's training forwards since the last
    /// <see cref="MoeLoadBalancing.AfterOptimizerStep"/>: what aux-loss-free balancing moves its bias by and what
    /// global-batch balancing takes its frequencies from. Thread-safe.
    /// </summary>
    /// <param name="numExperts">E.</param>
    internal sealed class ExpertLoads(int numExperts)
    {
        private readonly object _gate = new();
        private readonly long[] _assigned = new long[numExperts];

        /// <summary>Adds one forward's per-expert counts.</summary>
        public void Add(IReadOnlyList<long> assignedPerExpert)
        {
            lock (_gate)
            {
                for (var e = 0; e < _assigned.Length; e++) _assigned[e] += assignedPerExpert[e];
            }
        }

        /// <summary>The counts so far.</summary>
        public long[] Snapshot()
        {
            lock (_gate) return (long[])_assigned.Clone();
        }

        /// <summary>Returns the counts so far and starts a new step.</summary>
        public long[] TakeAndReset()
        {
            lock (_gate)
            {
                var counts = (long[])_assigned.Clone();
                Array.Clear(_assigned);
                return counts;
            }
        }
    }
}
