using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Result of dispatching T tokens through the experts.</summary>
    internal sealed class DispatchOutput
    {
        public DispatchOutput(Tensor output, long[] assignedPerExpert, long[] keptPerExpert, long? capacity)
        {
            Output = output;
            AssignedPerExpert = assignedPerExpert;
            KeptPerExpert = keptPerExpert;
            Capacity = capacity;
        }

        /// <summary>y_t = Σⱼ w_{t,j}·Expert_{e(t,j)}(x_t) over kept pairs, [T, out].</summary>
        public Tensor Output { get; }

        /// <summary>(token, slot) pairs routed to each expert, before capacity.</summary>
        public long[] AssignedPerExpert { get; }

        /// <summary>Pairs each expert processed, after capacity.</summary>
        public long[] KeptPerExpert { get; }

        /// <summary>Capacity C, or null when dropless.</summary>
        public long? Capacity { get; }
    }
}
