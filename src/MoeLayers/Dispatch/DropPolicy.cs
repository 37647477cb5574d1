namespace MoeLayers.Dispatch
{
    /// <summary>Which (token, slot) assignments an overflowing expert keeps when capacity is limited.</summary>
    public enum DropPolicy
    {
        /// <summary>Keep the first C assignments in token order (GShard/Switch); later tokens are dropped.</summary>
        ByPosition,

        /// <summary>Keep the C assignments with the largest router weights; ties go to the earlier token.</summary>
        ByWeight,
    }
}
