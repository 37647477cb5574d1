namespace MoeLayers.Distributed
{
    /// <summary>The element-wise reduction of <see cref="ICommunicator.AllReduce"/>.</summary>
    public enum ReduceOp
    {
        /// <summary>Sum over ranks.</summary>
        Sum = 0,

        /// <summary>Maximum over ranks.</summary>
        Max = 1,

        /// <summary>Minimum over ranks.</summary>
        Min = 2,
    }
}
