using System.Diagnostics;

namespace MoeLayers.Samples.MoeModel.Generation
{
    /// <summary>Why a generation ended.</summary>
    public enum FinishReason
    {
        /// <summary>It has not ended yet.</summary>
        None,

        /// <summary>A stop token was generated.</summary>
        Stop,

        /// <summary><see cref="GenerationOptions.MaxNewTokens"/> tokens were generated.</summary>
        Length,
    }

    /// <summary>
    /// Where a generation stands after a token: the prompt's length and how long its prefill took (the forward over the
    /// whole prompt, which also yields the first token), the tokens generated and the time spent after the prefill (one
    /// forward per further token), and the process's peak resident memory so far.
    /// </summary>
    /// <param name="PromptTokens">Tokens in the prompt.</param>
    /// <param name="GeneratedTokens">Tokens generated so far.</param>
    /// <param name="PrefillSeconds">Wall time of the prompt's forward and the first token's pick.</param>
    /// <param name="DecodeSeconds">Wall time of every later token's forward and pick.</param>
    /// <param name="PeakMemoryBytes">The process's peak resident set so far (VmHWM on Linux).</param>
    /// <param name="Finish">Why it ended, or <see cref="FinishReason.None"/> while it runs.</param>
    public sealed record GenerationStatistics(int PromptTokens, int GeneratedTokens, double PrefillSeconds, double DecodeSeconds,
        long PeakMemoryBytes, FinishReason Finish)
    {
        /// <summary>Prompt tokens per second of prefill.</summary>
        public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptTokens / PrefillSeconds : 0;

        /// <summary>Tokens per second after the first (each a forward of one token over the cache).</summary>
        public double DecodeTokensPerSecond => DecodeSeconds > 0 && GeneratedTokens > 1 ? (GeneratedTokens - 1) / DecodeSeconds : 0;

        /// <summary>The process's peak resident set now, in bytes.</summary>
        internal static long PeakMemoryNow()
        {
            using var process = Process.GetCurrentProcess();
            return process.PeakWorkingSet64;
        }

        /// <summary>A line for the console: prefill and decode tokens/s and peak memory.</summary>
        public override string ToString() =>
            $"prompt {PromptTokens} tokens, prefill {PrefillTokensPerSecond:F1} tokens/s; {GeneratedTokens} generated, decode "
            + $"{DecodeTokensPerSecond:F1} tokens/s; peak memory {PeakMemoryBytes / (1024.0 * 1024):F0} MiB";
    }
}
