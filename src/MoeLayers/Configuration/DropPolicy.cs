namespace MoeLayers
{
    /// <summary>Which (token, slot) assignments an overflowing expert keeps when capacity is limited.</summary>
    public enum DropPolicy
    {
        /// <summary>Keep the first C assignments in token order (Switch); later tokens are dropped.</summary>
        ByPosition,

        /// <summary>Keep the C assignments with the largest router weights; ties go to the earlier token.</summary>
        ByWeight,

        /// <summary>
        /// Keep every first choice before any second choice (and so on for k &gt; 2), each choice in token order: an
        /// expert full of second choices still takes a later token's first choice (GShard, DeepSpeed-MoE).
        /// </summary>
        ByChoiceThenPosition,
    }
}
