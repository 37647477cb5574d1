namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>One generated token and where the generation stands after it.</summary>
    /// <param name="Id">The token id.</param>
    /// <param name="Statistics">Counts and timings including this token; <see cref="GenerationStatistics.Finish"/> is set on the last one.</param>
    public readonly record struct GeneratedToken(int Id, GenerationStatistics Statistics)
    {
        /// <summary>Whether this token is one of the stop ids.</summary>
        public bool IsStop => Statistics.Finish == FinishReason.Stop;
    }
}
