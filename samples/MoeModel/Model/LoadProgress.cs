namespace MoeLayers.Samples.MoeModel
{
    /// <summary>How far loading a model folder has got: <paramref name="Done"/> of <paramref name="Total"/> steps (one per
    /// tensor outside the MoE blocks, then one for all MoE blocks together), the last one named.</summary>
    /// <param name="Done">Steps finished.</param>
    /// <param name="Total">Steps in all.</param>
    /// <param name="Step">What the last step read: a tensor's key, or "MoE layers …".</param>
    public readonly record struct LoadProgress(int Done, int Total, string Step);
}
