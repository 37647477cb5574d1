using System;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>
    /// Reports on the reporting thread itself: Progress&lt;T&gt; posts to the thread pool, so a progress bar would be
    /// updated after its task has ended.
    /// </summary>
    internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
