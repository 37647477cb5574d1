using MoeLayers.Samples.MoeModel.Generation;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.MoeModel.Chat
{
    /// <summary>What a <see cref="MoeChatClient"/> call uses where its ChatOptions leave a value unset.</summary>
    public sealed record MoeChatDefaults
    {
        /// <summary>The most tokens an answer may take.</summary>
        public int MaxOutputTokens { get; init; } = 512;

        /// <summary>Sampling when ChatOptions sets no temperature (default greedy).</summary>
        public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

        /// <summary>The chat template's options (thinking, reasoning effort, date, …).</summary>
        public ChatTemplateOptions Template { get; init; } = new();
    }
}
